"""Windows has no `fcntl`: this folder, put first on PYTHONPATH, makes it unimportable for
this package and for `filelock` (through which the package locks) in every Python process
started with that PYTHONPATH (subprocesses and pool workers inherit it), so the test suite
can show on Linux that the package never needs it.

Other importers keep it: the standard library's POSIX branches (`subprocess`) and the
libraries that choose between `fcntl` and `msvcrt` themselves (`locket`, which Dask's
`distributed` imports) take their Windows branch on Windows, which Linux cannot offer them.
Used by `.ci/run` for a second run of the core tests, and by tests/test_portability.py.
"""

import builtins
from collections.abc import Mapping
from typing import Any

#: Top-level packages that must do without fcntl.
REFUSED_TO = frozenset({"napari_radiomics", "filelock"})

_import = builtins.__import__


def _import_without_fcntl(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: tuple[str, ...] | list[str] = (),
    level: int = 0,
) -> Any:
    if name == "fcntl" and level == 0:
        importer = str((globals or {}).get("__name__", ""))
        if importer.partition(".")[0] in REFUSED_TO:
            message = f"No module named 'fcntl' (refused to {importer}, as on Windows)"
            raise ModuleNotFoundError(message, name=name)
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = _import_without_fcntl
