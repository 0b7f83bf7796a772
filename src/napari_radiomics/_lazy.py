"""A package's public names, imported on first use.

napari imports the package (for its manifest) and ``_napari`` (for every hook and dock), and
``io`` is imported by whoever reads one file: none of them may pay at import for pyradiomics,
SimpleITK, pandas or dask. Each such ``__init__`` names its API in a table and hands it here;
its ``TYPE_CHECKING`` imports keep the names visible to type checkers and to the import
contracts.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, modules: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose public name ``name`` lives in
    the module ``modules[name]`` (absolute, or relative to ``package`` when it starts with a
    dot). A name once looked up is kept in the package, so the hook runs once per name."""
    namespace = sys.modules[package].__dict__

    def getattr_(name: str) -> Any:
        if name not in modules:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(modules[name], package), name)
        namespace[name] = value
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(modules))

    return getattr_, dir_
