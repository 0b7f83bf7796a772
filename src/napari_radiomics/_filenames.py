"""Ids become file names through here, and nowhere else.

A case id or a patient id is whatever the user's data holds: a path (``a/1.mat`` when two
inputs share a file name), ``../../x`` from a batch CSV, ``MR048994B:2`` from a PID, a name
with a newline, ``CON`` or a 245-character name. Written as it is, such an id leaves the
output folder, overwrites a source, is refused by Windows, or is hidden (a leading dot) and
later skipped as a temporary file. So every file name made from an id goes through
:func:`file_stem`, and every file placed in an output folder through :func:`inside`.

:func:`file_stem` percent-encodes (RFC 3986 style, ``%XX`` per UTF-8 byte) exactly what some
operating system refuses or misreads, and nothing else, so that ordinary ids keep their
names (``17`` -> ``17``) and :func:`id_from_stem` gives the id back exactly: path separators,
``: * ? " < > |``, control characters, ``%`` itself, a leading dot, trailing dots and spaces,
and the first letter of a name Windows reserves (``CON``, ``NUL``, ``COM1``...). An id too long
for a file name (more than :data:`MAX_STEM_BYTES` encoded) keeps its start and gains a digest
of the whole id; that one cannot be decoded, so writers that need the id back record it beside
the file (as the corrections store's ``review.csv`` and an export's ``cases.csv`` do).

Windows and macOS file systems ignore case: ``A`` and ``a`` are one file there. Writers that
place many ids in one folder take their names from :func:`unique_stems`, which tells such
names apart with a digest. For the same reason, and because a hard link gives one file two
names, whether a file to be written is a file the command reads is asked of :func:`same_file`,
never of the paths' spelling.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from napari_radiomics.errors import WriteError

__all__ = [
    "MAX_STEM_BYTES",
    "file_stem",
    "id_from_stem",
    "inside",
    "refuse_sources",
    "same_file",
    "unique_stems",
]

#: Encoded stems longer than this are shortened: a file name may have 255 bytes on every common
#: file system, and writers add a suffix and a temporary prefix and suffix around the stem.
MAX_STEM_BYTES = 150

#: Characters some operating system refuses in a name (Windows: ``< > : " / \\ | ? *``),
#: the escape character itself, and control characters (newline, tab, ...).
_REFUSED = frozenset('<>:"/\\|?*%') | frozenset(chr(c) for c in range(32)) | {"\x7f"}
#: The empty id's stem: a ``%`` that is no escape, which no other id encodes to.
_EMPTY = "%empty"
_RESERVED = re.compile(r"^(CON|PRN|AUX|NUL|COM[0-9¹²³]|LPT[0-9¹²³])(\..*)?$", re.IGNORECASE)


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def file_stem(identifier: str) -> str:
    """A file name stem for ``identifier`` that is valid on Windows, macOS and Linux, is not
    hidden, and names a file inside the folder it is joined to; reversible by
    :func:`id_from_stem` unless it had to be shortened."""
    identifier = str(identifier)
    if not identifier:
        return _EMPTY
    chars = [_escape(c) if c in _REFUSED else c for c in identifier]
    if chars[0] == ".":
        chars[0] = _escape(".")
    end = len(chars)
    while end > 0 and chars[end - 1] in (".", " "):
        end -= 1
        chars[end] = _escape(chars[end])
    stem = "".join(chars)
    if _RESERVED.match(stem):
        stem = _escape(stem[0]) + stem[1:]
    if len(stem.encode("utf-8", "surrogatepass")) > MAX_STEM_BYTES:
        digest = hashlib.sha256(identifier.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        head = stem.encode("utf-8", "surrogatepass")[: MAX_STEM_BYTES - 18]
        stem = head.decode("utf-8", "ignore").rstrip(". ") + f"~{digest}"
    return stem


def id_from_stem(stem: str) -> str:
    """The id :func:`file_stem` made ``stem`` from (undoes the escapes)."""
    if stem == _EMPTY:
        return ""
    data = bytearray()
    i = 0
    while i < len(stem):
        if stem[i] == "%" and re.fullmatch(r"[0-9A-Fa-f]{2}", stem[i + 1 : i + 3]):
            data.append(int(stem[i + 1 : i + 3], 16))
            i += 3
        else:
            data += stem[i].encode("utf-8", "surrogatepass")
            i += 1
    return data.decode("utf-8", "surrogatepass")


def unique_stems(identifiers: Iterable[str]) -> dict[str, str]:
    """A stem per distinct id, no two alike even where case is ignored (Windows, macOS): the
    second of two ids whose stems differ only in case gains a digest of its id."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for identifier in identifiers:
        if identifier in stems:
            continue
        stem = file_stem(identifier)
        if stem.casefold() in taken:
            digest = hashlib.sha256(identifier.encode("utf-8", "surrogatepass")).hexdigest()
            stem = f"{stem[: MAX_STEM_BYTES - 18]}~{digest[:16]}"
        taken.add(stem.casefold())
        stems[identifier] = stem
    return stems


def inside(folder: str | Path, name: str) -> Path:
    """``folder / name``, refused (WriteError) unless it is a plain name that stays in
    ``folder`` once links are followed: the one check every writer makes before it writes a
    file whose name came from data."""
    folder = Path(folder)
    target = folder / name
    if name in ("", ".", "..") or "/" in name or "\\" in name or os.sep in name:
        raise WriteError(target, f"is not a plain file name; refused to write outside {folder}")
    real_folder = Path(os.path.realpath(folder))
    real_target = Path(os.path.realpath(target))
    if real_target.parent != real_folder:
        raise WriteError(
            target, f"leads to {real_target}, outside the output folder {real_folder}; refused"
        )
    return target


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one file: the one check every command makes before it
    writes, removes or locks a file that may be one it reads.

    Both existing, the file system decides (``os.path.samefile``: links followed, a hard link
    under another name, ``Cases.csv`` and ``cases.csv`` where case is ignored, as on macOS and
    Windows); comparing resolved paths would let all of these through. Otherwise (a file not
    written yet) the resolved paths, in the case the OS compares them (``os.path.normcase``).
    """
    try:
        return Path(a).samefile(b)
    except OSError:  # either is missing (not written yet) or unreachable
        return os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b))


def refuse_sources(
    path: str | Path,
    sources: Mapping[str, str],
    folders: Mapping[str, str] | None = None,
) -> None:
    """A WriteError naming ``path`` when writing it would replace a file something is read
    from: one of ``sources``, or a file of one of ``folders`` (a corrections store, whose
    files only its own writer may replace): any name inside it or in a folder it links to
    (a ``masks`` on another disk), or a file in them by another name. Each maps a path to
    the reason the error gives (``"is the source of layer 'x'; ..."``). Asked of the file
    system (as :func:`same_file`), so a hard link, or a name in another case where case is
    ignored, is caught as the name itself.

    Sources are keyed by their text, so a folder of 3064 cases named by several layers is
    asked once per file; and only when ``path`` is there (under this name or, where case is
    ignored, another case of it): a new file replaces none, and resolving 3064 paths to
    compare them would cost a dock's save some 60 ms on the GUI thread. ``path`` is looked at
    once, not once per source, and the folders are walked only for a file with a second
    name: a save over an earlier export, beside a 3064-case stack whose store holds 300
    masks, took 40 ms on the GUI thread so, and takes 9 ms."""
    path = Path(path)
    target = _stat(path)  # looked at once: a dock asks this of thousands of sources
    for source, reason in sources.items() if target is not None else ():
        if _is(target, source):
            raise WriteError(path, reason)
    if not folders:
        return
    # The folder the name is written in and the one its file is in, each with ".." taken
    # after the links before it (``store/../x.csv`` is beside the store, not in it).
    places = {Path(os.path.realpath(path.absolute().parent)), Path(os.path.realpath(path)).parent}
    above = {folder for place in places for folder in (place, *place.parents)}
    spread = {folder: _linked_places(folder) for folder in folders}
    for folder, reason in folders.items():
        if any(same_file(parent, inner) for parent in above for inner in spread[folder]):
            raise WriteError(path, reason)
    # A hard link to a folder's file, from outside it; a file with one name has none, and
    # the folders are not walked for it (a save over an earlier export).
    for folder, reason in folders.items() if target is not None and target.st_nlink > 1 else ():
        if any(_is(target, inner) for place in spread[folder] for inner in place.rglob("*")):
            raise WriteError(path, reason)


def _linked_places(folder: str) -> list[Path]:
    """``folder`` and the folders its entries link to: a store's ``masks`` may be a link to
    another disk, whose files are the store's by their own names too."""
    try:
        with os.scandir(folder) as entries:
            linked = [
                Path(entry.path) for entry in entries if entry.is_symlink() and entry.is_dir()
            ]
    except OSError:  # not there yet, or not readable: its own name is all there is
        linked = []
    return [Path(folder), *linked]


def _stat(path: str | Path) -> os.stat_result | None:
    """``path``'s status, links followed; None when it is missing or cannot be looked at."""
    try:  # not Path(path).stat(): a Path per source: 13 ms, not 3.6, for 3064 cases
        return os.stat(path)  # noqa: PTH116
    except (OSError, ValueError):  # ValueError: a NUL in the name, which no file has
        return None


def _is(target: os.stat_result, other: str | Path) -> bool:
    """Whether ``other`` is the file whose status is ``target`` (as ``os.path.samefile``)."""
    found = _stat(other)
    return found is not None and os.path.samestat(target, found)
