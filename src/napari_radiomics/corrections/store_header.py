"""A corrections store's ``store.yaml``: which dataset the store corrects, and whether a
dataset being opened is that one, also after both were moved or copied together.

The header records the dataset twice: its absolute path (for a person reading the file) and
its path relative to the store (``../brain`` for the default sibling store). A store that no
longer sits where it was made still serves the dataset found at that relative path, which is
where a folder moved or copied together with its store (another disk, another machine, a
renamed parent, another drive letter) ends up: the user's corrections keep applying to the
same case files.

A place alone does not prove it is the same dataset: a store copied by itself next to an
unrelated folder of the same name would apply its corrections to that folder's cases (for a
NumPy bundle, by slice index). So the header also records a fingerprint, and a *moved* store
is accepted only when it matches:

* ``sources``: for every corrected case, its source file (relative to the dataset) and size
  (for a NumPy bundle, the total size of its files, which its arrays' shapes and types
  decide); a reverted case leaves it. The moved dataset must still hold each with the same
  size. This is the rule for a store with corrections: a dataset that gained cases since
  still opens (new cases cannot take a correction meant for another file, and the user's
  corrections are never blocked), while a dataset whose corrected files are missing or
  differ is refused, since applying a mask to another slice is the one harm that cannot be
  seen afterwards. (Equal sizes of different files are possible but unlikely for compressed
  .mat files and images; a check of contents would read the whole dataset at every open.)
* ``listing``: a digest of the dataset's file names and sizes when the header was written,
  used only while the store holds no correction (statuses alone): then the folder must be
  unchanged. Refused, the statuses stay in the store, and the refusal says how to accept it.

A store at its recorded place is not checked (as before). Headers written without a
fingerprint (earlier versions) are accepted after a move only in the default layout
(``<name>.corrections`` beside the folder ``<name>``, also when the header recorded a single
file of that folder). Anything else is another dataset's store, refused naming both.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics.corrections.location import STORE_SUFFIX

__all__ = [
    "FORMAT",
    "MOVES_KEPT",
    "VERSION",
    "Owner",
    "Source",
    "listing",
    "read_header",
    "source_entry",
    "write_header",
]

FORMAT = "napari-radiomics corrections"
VERSION = 1
#: A corrected case's source: its file relative to the dataset, and its size in bytes.
Source = tuple[str, int]
#: How many earlier places ``moved_from`` keeps (the latest ones): a history, not a log.
MOVES_KEPT = 10


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


def write_header(
    root: Path,
    dataset: Path,
    moved_from: list[str],
    sources: dict[str, Source],
) -> None:
    """Write store.yaml for ``dataset`` (``moved_from``: where it was recorded before, the
    latest :data:`MOVES_KEPT`, each once; ``sources``: see the module's docstring)."""
    header: dict[str, Any] = {"format": FORMAT, "version": VERSION, "dataset": str(dataset)}
    relative = _relative(dataset, root)
    if relative is not None:
        header["dataset_relative"] = relative
    places = list(dict.fromkeys(reversed(moved_from)))[:MOVES_KEPT]  # latest first, unique
    if places:
        header["moved_from"] = places[::-1]
    header["listing"] = listing(dataset)
    header["sources"] = {case: {"file": f, "bytes": n} for case, (f, n) in sorted(sources.items())}
    with replaced(root / "store.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(header, sort_keys=False, width=1 << 16), encoding="utf-8")


def listing(folder: Path) -> str:
    """A digest of the names and sizes of ``folder``'s files (one scandir; "" if unreadable)."""
    try:
        entries = sorted(
            f"{e.name}\0{e.stat().st_size}" for e in os.scandir(folder) if e.is_file()
        )
    except OSError:
        return ""
    return hashlib.sha256("\n".join(entries).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def source_entry(dataset: Path, source: str | Path) -> Source | None:
    """``source`` (a case's file, or a NumPy bundle's folder) as (its path relative to
    ``dataset``, its size); None when it is outside the dataset or unreadable."""
    real = os.path.realpath(source)
    relative = os.path.relpath(real, os.path.realpath(dataset))
    if relative.startswith(".."):
        return None
    return Path(relative).as_posix(), _size(Path(real))


def _size(path: Path) -> int:
    """A file's size, or the total size of a folder's files (a NumPy bundle); -1 if absent."""
    try:
        if path.is_dir():
            return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
        return path.stat().st_size
    except OSError:
        return -1


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
    sources: dict[str, Source] | None = None
    listing: str | None = None
    moves: tuple[str, ...] = ()

    @classmethod
    def of(cls, root: Path, header: dict[str, Any]) -> Owner:
        recorded = header.get("dataset")
        relative = header.get("dataset_relative")
        sources = header.get("sources")
        digest = header.get("listing")
        moves = header.get("moved_from")
        return cls(
            root,
            recorded if isinstance(recorded, str) else None,
            relative if isinstance(relative, str) else None,
            _sources(sources),
            digest if isinstance(digest, str) else None,
            tuple(str(p) for p in moves) if isinstance(moves, list) else (),
        )

    def at_place(self, dataset: Path) -> bool:
        """Whether the store serves ``dataset`` where it was made (the recorded folder or a
        folder inside it), or has recorded nothing yet."""
        return self.recorded is None or _serves(Path(self.recorded), dataset)

    def moved(self, dataset: Path) -> Path | None:
        """The folder the store's dataset is at now, if ``dataset`` is it or inside it: the
        recorded position relative to the store (for headers without a fingerprint, only the
        default sibling layout). Whether it holds the same data: :meth:`mismatch`."""
        if self.at_place(dataset):
            return None
        assert self.recorded is not None
        relative = self.relative
        if relative is None or self.sources is None:
            relative = self._sibling()
            if relative is None:
                return None
        folder = Path(os.path.normpath(self.root / relative))
        return folder if _serves(folder, dataset) else None

    def _sibling(self) -> str | None:
        """``../<name>`` when the store is ``<name>.corrections`` and the recorded dataset
        (or the single file recorded, in the folder ``<name>``) is called ``<name>``."""
        recorded = Path(self.recorded.replace("\\", "/")) if self.recorded else None
        if recorded is None:
            return None
        for name in (recorded.name, recorded.parent.name):
            if name and self.root.name == name + STORE_SUFFIX:
                return f"../{name}"
        return None

    def place(self, dataset: Path, shown: Path) -> tuple[Path, str | None]:
        """Where the store's dataset is now, and why the store cannot serve ``dataset`` (a
        real path; ``shown`` as the user gave it) or None if it can."""
        if self.at_place(dataset):
            if self.recorded is None:
                return shown, None
            recorded = Path(self.recorded)
            return (recorded.parent if recorded.is_file() else recorded), None
        moved_to = self.moved(dataset)
        if moved_to is None:
            return shown, (
                f"is the corrections store of the dataset {self.recorded}, not of {shown}; "
                "refused, so that one dataset's corrections never apply to another's cases (a "
                "store moved with its dataset, keeping its place beside it, opens; if only the "
                "dataset was moved, edit the dataset line of store.yaml)"
            )
        why = self.mismatch(moved_to)
        if why is not None:
            return shown, (
                f"was made for the dataset {self.recorded} and now sits beside {moved_to}, "
                f"but {why}: it is not the same data, so its corrections are not applied "
                "(if it is, edit the dataset line of store.yaml to name this folder)"
            )
        return moved_to, None

    def mismatch(self, folder: Path) -> str | None:
        """Why the dataset now at ``folder`` is not the one the store was made for (None
        if it is, or the header predates fingerprints); see the module's docstring."""
        if self.sources is None:
            return None
        for relative, size in self.sources.values():
            found = _size(folder / relative)
            if found != size:
                state = "is missing" if found < 0 else f"has {found} bytes, not {size}"
                return f"its corrected case's file {relative} {state} there"
        if not self.sources and self.listing is not None and listing(folder) != self.listing:
            return "its files differ from those the store was made with"
        return None


def _sources(value: object) -> dict[str, Source] | None:
    """The header's ``sources`` (None if absent: an older header). A damaged entry is kept
    as a file that cannot match, so a damaged header refuses a move rather than skip a check."""
    if value is None:
        return None
    if not isinstance(value, dict):
        return {"": ("store.yaml's sources (unreadable)", -2)}
    sources: dict[str, Source] = {}
    for case, entry in value.items():
        try:
            sources[str(case)] = (str(entry["file"]), int(entry["bytes"]))
        except (TypeError, KeyError, ValueError):
            sources[str(case)] = (f"of case {case} (unreadable in store.yaml)", -2)
    return sources


def _serves(recorded: Path, dataset: Path) -> bool:
    """Whether a store recorded for ``recorded`` serves ``dataset`` (a real path): the same
    folder, or a folder inside it (``extract`` reads a dataset's subfolders with it). Stores
    opened on a single file recorded that file, which stands for its folder."""
    real = Path(os.path.realpath(os.path.normpath(recorded)))
    folder = real.parent if real.is_file() else real
    return folder == dataset or folder in dataset.parents
