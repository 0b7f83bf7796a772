"""The files a batch run writes, designed so that no finished case is ever lost.

For `features.csv` a run writes:

- `features.csv` — one row per case and ROI label, appended as each case finishes. All rows of
  a case go to the file in one `os.write` on an append-only descriptor, so a crash, Ctrl-C or
  SIGKILL leaves at worst one truncated last record; `--resume` cuts that record off and
  re-runs its case. Values are written with `repr` precision, so floats read back
  bit-identical, and text exactly: a case name with a line break is a quoted value spanning
  lines, as CSV allows (see :func:`csv_records`), never a mangled id that `--resume` would not
  recognise.
- `features.params.yaml` — the pyradiomics parameters of the run (a valid pyradiomics params
  file). `--resume` compares it with the current settings and refuses to mix settings.
- `features.errors.csv` — `case`, `path`, `message` for every case (or ROI label) that failed;
  only created when something fails.
- `features.lock` — while the run lasts: it owns the output (see `_lock`), so a second run on
  the same output is refused instead of interleaving its rows with this one's.

All files are UTF-8; what UTF-8 cannot hold (a lone surrogate from a file name that is not
UTF-8) is written as a backslash escape rather than crashing the run. A write that fails (a
full disk) is rolled back to the last complete line and raises a WriteError naming the file;
the small files (params, errors after a resume) are replaced atomically.
The bytes of those files (records, appends, the repair of a cut tail) are ``_journal_file``'s.

For `features.parquet` the rows are journaled to `features.partial.csv` the same way and
converted to Parquet when the run ends; an interrupted run leaves the journal, which `--resume`
continues. Parquet cannot be appended to row by row without holding row groups open, and a
crash would then lose the file's footer, i.e. everything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics._filenames import same_file
from napari_radiomics._lock import OutputLock, lock_path
from napari_radiomics.batch._journal_file import (
    append_text,
    as_written,
    csv_text,
    read_rows,
    replace_text,
    scan_journal,
)
from napari_radiomics.columns import MASK_DIGEST, MASK_SOURCE, ROI_LABEL
from napari_radiomics.errors import BatchError, SettingsError, WriteError
from napari_radiomics.results import read_table
from napari_radiomics.settings import ExtractionSettings, params_from_yaml, params_to_yaml


def settings_hash(params: dict[str, Any]) -> str:
    """A short fingerprint of pyradiomics parameters, stable across a YAML round trip."""
    normal = yaml.safe_load(yaml.safe_dump(params))
    text = json.dumps(normal, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _same_settings(before: dict[str, Any], now: dict[str, Any]) -> bool:
    """Whether two params files extract the same features: spelled alike, or differing only
    in values that pyradiomics takes by default anyway (``binWidth: 25`` given or not)."""
    if settings_hash(before) == settings_hash(now):
        return True
    try:
        return ExtractionSettings.from_params(before) == ExtractionSettings.from_params(now)
    except SettingsError:  # an edited sidecar that no longer validates
        return False


def companion_paths(output: Path) -> tuple[Path, Path, Path]:
    """(journal CSV, params sidecar, errors CSV) that belong to `output`."""
    journal = output if output.suffix.lower() != ".parquet" else output.with_suffix(".partial.csv")
    return journal, output.with_suffix(".params.yaml"), output.with_suffix(".errors.csv")


#: The table formats an output may have: any other name (``mask.nrrd``) is refused rather than
#: replaced by a table.
OUTPUT_SUFFIXES = (".csv", ".parquet")


def refuse_inputs_as_output(
    output: str | Path, inputs: Iterable[str | Path], also: Iterable[Path] = ()
) -> None:
    """BatchError naming the input when ``output`` or a file that comes with it (journal,
    params sidecar, errors file, lock, and the caller's own files ``also``) is one of
    ``inputs`` (a case's image or mask, the batch CSV or params file read): ``--overwrite``
    would delete or replace a source file. Also refuses an output that is no table
    (``-o scan.nrrd``)."""
    output = Path(output)
    written = [output, *companion_paths(output), lock_path(output), *also]
    existing = [path for path in written if path.exists()]  # once, not once per case
    for given in inputs if existing else ():
        source = Path(given)
        if source.is_file() and any(same_file(source, path) for path in existing):
            raise BatchError(
                f"{source}: is an input of this run, and -o {output} would replace it with "
                f"features or a file written with them ({', '.join(p.name for p in written)});"
                " choose another output name"
            )
    if output.suffix.lower() not in OUTPUT_SUFFIXES:
        raise BatchError(
            f"{output}: the output is a table named .csv or .parquet; choose such a name "
            "(nothing else is replaced by a table)"
        )


class BatchOutput:
    """Append-only results and errors of one batch run (see the module docstring)."""

    def __init__(
        self,
        output: str | Path,
        params: dict[str, Any],
        metadata_columns: Sequence[str],
        *,
        resume: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.output = Path(output)
        self.journal, self.sidecar, self.errors_path = companion_paths(self.output)
        self.metadata_columns = list(metadata_columns)
        self.header: list[str] | None = None
        self.done: dict[str, tuple[str, str]] = {}  # case id -> (mask_source, mask_digest)
        self.rows_written = 0
        self.failed_cases: set[str] = set()
        self._params = params
        if not self.output.parent.is_dir():
            raise BatchError(f"{self.output}: folder {self.output.parent} does not exist")
        # Before anything is read, deleted or written: two runs on one output corrupt it.
        self.lock = OutputLock(self.output).acquire()
        try:
            self._open(resume=resume, overwrite=overwrite)
        except BaseException:
            self.lock.release()
            raise

    def _open(self, *, resume: bool, overwrite: bool) -> None:
        existing = [p for p in (self.output, self.journal) if p.exists()]
        if existing and not (resume or overwrite):
            raise BatchError(
                f"{existing[0]}: already exists; pass --resume to continue it "
                "or --overwrite to start again"
            )
        if resume and existing:
            self._resume()
        else:
            for path in (self.output, self.journal, self.errors_path):
                path.unlink(missing_ok=True)
            self._write_sidecar()

    def _write_sidecar(self) -> None:
        text = (
            "# pyradiomics parameters of this batch run (usable with pyradiomics -p).\n"
            f"# settings-hash: {settings_hash(self._params)}\n"
        ) + params_to_yaml(self._params)
        replace_text(self.sidecar, text)

    def _resume(self) -> None:
        if not self.sidecar.exists():
            raise BatchError(
                f"{self.output}: cannot resume, {self.sidecar.name} (the settings of the "
                "earlier run) is missing; use --overwrite to start again"
            )
        before = params_from_yaml(self.sidecar.read_text(encoding="utf-8")) or {}
        if not _same_settings(before, self._params):
            raise BatchError(
                f"{self.output}: was written with different settings ({self.sidecar.name}: "
                f"{_difference(before, self._params)}); resume with the same settings, "
                "choose another output, or use --overwrite"
            )
        if not self.journal.exists():  # a finished Parquet run being extended
            frame = pd.read_parquet(self.output)
            append_text(self.journal, csv_text([list(frame.columns), *frame.itertuples(False)]))
        self.header, self.done = scan_journal(self.journal)
        if self.header is not None:
            self.metadata_columns = self.header[: self.header.index(ROI_LABEL)]

    def prune_errors(self, retried: Iterable[str]) -> None:
        """Forget earlier errors of cases this run tries again (they get a fresh verdict); the
        others still stand and count as failed, so a resumed run reports them too."""
        if not self.errors_path.exists():
            return
        retried = {as_written(case_id) for case_id in retried}
        rows = read_rows(self.errors_path)
        keep = [r for r in rows[1:] if r and r[0] not in retried]
        self.failed_cases.update(r[0] for r in keep)
        if keep:
            replace_text(self.errors_path, csv_text([rows[0], *keep]))
        else:
            self.errors_path.unlink()

    def add(
        self,
        case_id: str,
        metadata: dict[str, Any],
        feature_columns: list[str],
        rows: list[list[Any]],
    ) -> str | None:
        """Append the rows of one finished case (identifying columns from `metadata`, then
        `roi_label` and features). Returns a problem message instead when its feature columns
        differ from the file's (e.g. a 3D image among 2D slices: shape vs shape2D)."""
        ids = [metadata.get(c) for c in self.metadata_columns]
        text_rows: list[Sequence[Any]] = []
        first = self.header is None
        if self.header is None:
            self.header = self.metadata_columns + feature_columns
            text_rows.append(self.header)
        features = self.header[len(self.metadata_columns) :]
        if feature_columns != features:
            if set(feature_columns) != set(features):
                missing = sorted(set(features) - set(feature_columns))[:3]
                extra = sorted(set(feature_columns) - set(features))[:3]
                return (
                    "its feature columns differ from the first case's (missing "
                    f"{missing}, extra {extra}); write such cases to a separate output"
                )
            order = [feature_columns.index(c) for c in features]
            rows = [[row[i] for i in order] for row in rows]
        text_rows.extend(ids + list(row) for row in rows)
        try:
            append_text(self.journal, csv_text(text_rows))
        except WriteError:
            if first:  # the header went back out with the rows
                self.header = None
            raise
        mask = (str(metadata.get(MASK_SOURCE) or ""), str(metadata.get(MASK_DIGEST) or ""))
        self.done[as_written(case_id)] = mask
        self.rows_written += len(rows)
        return None

    def add_error(self, case_id: str, path: str, message: str) -> None:
        """Record one failure in the errors file, right away (it survives a crash too)."""
        rows: list[Sequence[Any]] = []
        if not self.errors_path.exists():
            rows.append(["case", "path", "message"])
        rows.append([case_id, path, message])
        append_text(self.errors_path, csv_text(rows))
        self.failed_cases.add(as_written(case_id))

    def changed_masks(self, cases: Iterable[Any]) -> list[str]:
        """Ids of finished cases whose mask changed since their rows were written: corrected
        since, corrected again, or reverted. ``cases`` are batch ``Case``s."""
        changed = []
        for case in cases:
            before = self.done.get(as_written(case.case_id))
            if before is None:
                continue
            source, digest = before
            if case.corrected is None:
                stale = source == "corrected"  # reverted since
            else:  # corrected since, or again (a store that records no digest cannot tell)
                known = case.corrected.digest
                stale = source != "corrected" or bool(known and digest != known)
            if stale:
                changed.append(case.case_id)
        return changed

    def forget(self, case_ids: Iterable[str]) -> None:
        """Remove the rows of these cases from the journal (replaced whole), so they run again
        and the output holds only their new rows."""
        drop = {as_written(c) for c in case_ids} & set(self.done)
        if not drop or not self.journal.exists():
            return
        rows = read_rows(self.journal)
        kept = [rows[0], *(r for r in rows[1:] if r and r[0] not in drop)]
        replace_text(self.journal, csv_text(kept))
        for case_id in drop:
            del self.done[case_id]

    def is_done(self, case_id: str) -> bool:
        """Whether an earlier run (or this one) already wrote `case_id`."""
        return as_written(case_id) in self.done

    def finish(self) -> None:
        """Convert the journal to Parquet when that is the requested format (through a
        temporary file: a full disk leaves the journal, which --resume converts)."""
        if self.journal != self.output and self.journal.exists():
            try:
                with replaced(self.output) as tmp:
                    read_table(self.journal).to_parquet(tmp, index=False)
            except OSError as exc:
                raise WriteError(
                    self.output,
                    f"cannot be written ({exc.strerror}); the rows are kept in "
                    f"{self.journal.name}: free some space, then rerun with --resume",
                ) from None
            self.journal.unlink()

    def close(self) -> None:
        """Give the output up to other runs (however this one ended; closing twice is fine)."""
        self.lock.release()


def _difference(before: dict[str, Any], now: dict[str, Any]) -> str:
    """Name the first differing parameter keys, so the user sees what changed."""
    diffs = []
    for section in sorted(set(before) | set(now)):
        a, b = before.get(section) or {}, now.get(section) or {}
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                diffs.append(f"{section}: {a!r} -> {b!r}")
            continue
        diffs.extend(
            f"{section}.{k}: {a.get(k)!r} -> {b.get(k)!r}"
            for k in sorted(set(a) | set(b), key=str)
            if a.get(k) != b.get(k)
        )
    return "; ".join(diffs[:4]) or "parameters differ"
