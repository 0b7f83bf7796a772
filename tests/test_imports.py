"""First imports of heavy packages from two threads at once (napari_radiomics._imports)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest

from napari_radiomics._imports import import_once

#: A package whose import takes a while and defines its last name at the very end, as a big
#: package does: a thread seeing it half-initialised misses ``COMPLETE``.
SLOW = """
import time
from pathlib import Path

with open(Path(__file__).with_name("runs.txt"), "a") as runs:
    runs.write("run\\n")
time.sleep(0.3)
COMPLETE = True
"""


def test_two_threads_importing_at_once_get_one_whole_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "slowpackage"
    package.mkdir()
    (package / "__init__.py").write_text(SLOW, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slowpackage", raising=False)
    begin = threading.Barrier(2)
    seen: list[ModuleType | BaseException] = []

    def importing() -> None:
        begin.wait()
        try:
            seen.append(import_once("slowpackage"))
        except BaseException as exc:  # reported by the assertion below
            seen.append(exc)

    threads = [threading.Thread(target=importing) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert [getattr(m, "COMPLETE", m) for m in seen] == [True, True]
        assert seen[0] is seen[1]
        assert (package / "runs.txt").read_text(encoding="utf-8") == "run\n"
    finally:
        sys.modules.pop("slowpackage", None)
