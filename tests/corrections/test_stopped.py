"""`export` and `corrections` stopped by Ctrl-C, SIGTERM or SIGKILL at exact moments (real
subprocesses in their own session; see ``processes.run_cli_signalled``): the output is the
previous one or the new one, never a part, and a rerun gives what an uninterrupted run gives."""

from __future__ import annotations

import signal
from pathlib import Path

import pandas as pd

from napari_radiomics.batch import discover_cases
from processes import run_cli, run_cli_signalled
from sample_files import write_mat_folder


def _case_ids(export: Path) -> list[str]:
    return sorted(pd.read_csv(export / "cases.csv", dtype=str)["case"])


def test_an_export_killed_inside_its_dataset_leaves_no_cases_behind(tmp_path: Path) -> None:
    """`export data -o data/corrected`, killed mid-write, leaves its hidden staging folder of
    copies in the dataset: a rerun exported them as 3 more cases (``.corrected.1a2b3c4d.export/
    1``...), and `extract` measured them, instead of ignoring them as the leftover they are."""
    folder = tmp_path / "brain"
    write_mat_folder(folder, 6)
    out = folder / "corrected"
    command = ("export", folder, "-o", out)
    killed = run_cli_signalled(signal.SIGKILL, "shutil.copyfile", "", *command, nth=4)
    assert killed.returncode == -signal.SIGKILL
    (staging,) = (p for p in folder.iterdir() if p.name.startswith("."))
    assert len(list(staging.iterdir())) == 3
    assert not out.exists()
    assert all(staging not in Path(c.path).parents for c in discover_cases([folder]))
    rerun = run_cli(*command)
    assert rerun.returncode == 0, rerun.stderr
    assert _case_ids(out) == [str(i) for i in range(1, 7)]
