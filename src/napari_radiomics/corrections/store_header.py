"""A corrections store's ``store.yaml``: which dataset the store corrects, and whether a
dataset being opened is that one, also after both were moved or copied together.

The header records the dataset twice: its absolute path (for a person reading the file) and
its path relative to the store (``../brain`` for the default sibling store). A store that no
longer sits where it was made still serves the dataset found at that relative path, which is
where a folder moved or copied together with its store (another disk, another machine, a
renamed parent, another drive letter) ends up: the user's corrections keep applying to the
same case files. Headers written before the relative path was recorded are read as the default
layout (``<name>.corrections`` beside the folder ``<name>``), the only one in which a store
moves with its dataset. Anything else is another dataset's store, refused naming both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics.corrections.location import STORE_SUFFIX

__all__ = ["FORMAT", "VERSION", "Owner", "read_header", "write_header"]

FORMAT = "napari-radiomics corrections"
VERSION = 1


def read_header(root: Path, problems: list[str]) -> dict[str, Any]:
    """store.yaml's content ({} if there is none; an unreadable one is added to
    ``problems``, so the rest of the store still opens)."""
    header = root / "store.yaml"
    if not header.is_file():
        return {}
    try:
        info = yaml.safe_load(header.read_text(encoding="utf-8"))
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise ValueError("not a napari-radiomics corrections store header")
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        problems.append(f"{header}: unreadable ({exc}); the rest is used")
        return {}
    return info


def write_header(root: Path, dataset: Path, moved_from: list[str]) -> None:
    """Write store.yaml for ``dataset`` (``moved_from``: where it was recorded before)."""
    header: dict[str, Any] = {"format": FORMAT, "version": VERSION, "dataset": str(dataset)}
    relative = _relative(dataset, root)
    if relative is not None:
        header["dataset_relative"] = relative
    if moved_from:
        header["moved_from"] = moved_from
    with replaced(root / "store.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(header, sort_keys=False, width=1 << 16), encoding="utf-8")


def _relative(dataset: Path, root: Path) -> str | None:
    """``dataset`` relative to ``root``, with forward slashes (None across Windows drives,
    where no relative path exists)."""
    try:
        return Path(os.path.relpath(dataset, root)).as_posix()
    except ValueError:
        return None


@dataclass(frozen=True)
class Owner:
    """The dataset a store's header records, and how it relates to ``dataset`` (a real path).

    ``recorded`` is None for a store without a header (made, or not yet written, by this
    session: nothing is recorded to contradict).
    """

    root: Path
    recorded: str | None
    relative: str | None

    @classmethod
    def of(cls, root: Path, header: dict[str, Any]) -> Owner:
        recorded = header.get("dataset")
        relative = header.get("dataset_relative")
        return cls(
            root,
            recorded if isinstance(recorded, str) else None,
            relative if isinstance(relative, str) else None,
        )

    def serves(self, dataset: Path) -> bool:
        """Whether the store serves ``dataset`` where it was made (the recorded folder or a
        folder inside it) or after moving with it (see the module's docstring)."""
        if self.recorded is None:
            return True
        return _serves(Path(self.recorded), dataset) or self.moved(dataset)

    def moved(self, dataset: Path) -> bool:
        """Whether ``dataset`` is the recorded one at a new place: found at the recorded
        position relative to the store (for older headers, the default sibling layout)."""
        if self.recorded is None or _serves(Path(self.recorded), dataset):
            return False
        relative = self.relative
        if relative is None:
            # a path recorded on Windows ("D:\\brain") is split at its backslashes too
            name = Path(self.recorded.replace("\\", "/")).name
            if self.root.name != name + STORE_SUFFIX:
                return False
            relative = f"../{name}"
        return _serves(self.root / relative, dataset)


def _serves(recorded: Path, dataset: Path) -> bool:
    """Whether a store recorded for ``recorded`` serves ``dataset`` (a real path): the same
    folder, or a folder inside it (``extract`` reads a dataset's subfolders with it). Stores
    opened on a single file recorded that file, which stands for its folder."""
    real = Path(os.path.realpath(recorded))
    folder = real.parent if real.is_file() else real
    return folder == dataset or folder in dataset.parents
