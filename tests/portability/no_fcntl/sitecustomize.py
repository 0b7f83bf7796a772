"""Windows has no `fcntl`: this folder, put first on PYTHONPATH, makes it unimportable in
every Python process started with that PYTHONPATH (subprocesses and pool workers inherit it),
so the test suite can show on Linux that the package never needs it.

Used by `.ci/run` for a second run of the core tests, and by tests/test_portability.py.
"""

import sys
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType


class _NoFcntl(MetaPathFinder):
    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "fcntl":
            message = "No module named 'fcntl' (refused, as on Windows)"
            raise ModuleNotFoundError(message, name=name)
        return None


sys.modules.pop("fcntl", None)
sys.meta_path.insert(0, _NoFcntl())
