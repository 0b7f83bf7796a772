"""What opening a corrections store (``corrections.store``) finds out, writing nothing: whether
the folder may be the dataset's store at all (``place``), whether it can be written
(``unwritable``), and what it holds (``contents``: the masks and tables, reconciled).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from napari_radiomics._atomic import is_temporary
from napari_radiomics.corrections.maskfile import mask_case
from napari_radiomics.corrections.store_header import Owner, Source, read_header
from napari_radiomics.corrections.store_tables import (
    LOG_COLUMNS,
    REVIEW_COLUMNS,
    STATUSES,
    Tables,
    read_table,
)

__all__ = ["Place", "contents", "place", "unwritable"]


@dataclass(frozen=True)
class Place:
    """Whether a folder can be a dataset's store, and where that dataset is now."""

    #: why the folder cannot be this dataset's store (None if it can)
    refused: str | None
    #: the folder store.yaml names (where the dataset is now)
    home: Path
    #: where store.yaml recorded the dataset, if both moved since (rewritten on writing)
    moved_from: str | None = None
    #: what else store.yaml records: the dataset's earlier places, the corrected sources
    moves: tuple[str, ...] = ()
    sources: dict[str, Source] = field(default_factory=dict)


def place(root: Path, dataset: Path, problems: list[str]) -> Place:
    """Whether ``root`` can be the store of ``dataset`` (``store.yaml`` unreadable: added to
    ``problems``).

    Paths are compared with links followed: a store inside the dataset, or whose ``masks``
    folder leads into it, would write corrections over source files and delete them on
    revert; the store of another dataset (``store.yaml`` records which one) would apply its
    corrections to whatever cases share their names.
    """
    real_dataset = Path(os.path.realpath(dataset))
    for folder in (root, root / "masks"):
        real = Path(os.path.realpath(folder))
        if real == real_dataset or real_dataset in real.parents:
            which = "is" if folder == root else "has its masks folder"
            leads = "" if real == folder else f" (through a link, to {real})"
            return Place(
                f"{which} inside the dataset {dataset}{leads}: a store is kept outside its "
                "dataset, so that no source file is ever written or deleted; choose another "
                "corrections folder",
                dataset,
            )
    owner = Owner.of(root, read_header(root, problems))
    home, refusal = owner.place(real_dataset, dataset)
    moved = refusal is None and not owner.at_place(real_dataset)
    recorded = owner.recorded if moved else None
    return Place(refusal, home, recorded, owner.moves, dict(owner.sources or {}))


def unwritable(root: Path) -> str | None:
    """Why the store ``root`` cannot be written (None if it can), found at opening, before
    anything is painted, by a probe in its nearest existing folder: the store itself is
    created only with the first correction."""
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:  # a real probe: permissions, read-only mounts and ACLs all answer it truly
        Path(tempfile.mkdtemp(dir=existing, prefix=".napari-radiomics-probe-")).rmdir()
        full = shutil.disk_usage(existing).free == 0  # statvfs is POSIX-only
    except OSError as exc:
        return f"cannot be written ({exc.strerror or exc} in {existing})"
    return f"cannot be written (the disk of {existing} is full)" if full else None


def contents(root: Path, problems: list[str]) -> tuple[dict[str, Path], Tables]:
    """The store's corrected masks by case, and its tables, what is damaged
    added to ``problems`` and left out. The mask files are the truth about what is corrected:
    a mask without a row (the process died between the two writes) is a correction, a row
    whose mask is missing is reported and the original used."""
    masks: dict[str, Path] = {}
    if (root / "masks").is_dir():
        for path in sorted((root / "masks").iterdir()):
            if is_temporary(path.name) or not path.is_file():
                continue  # a temporary file left by a killed write
            masks[mask_case(path)] = path
    rows = {r["case"]: r for r in read_table(root / "review.csv", REVIEW_COLUMNS, problems)}
    log = read_table(root / "log.csv", LOG_COLUMNS, problems)
    for case, row in rows.items():
        if row.get("status") not in STATUSES:
            problems.append(
                f"review.csv: case {case}: unknown status {row.get('status')!r}; "
                "shown as unreviewed"
            )
            row["status"] = "unreviewed"
        if case not in masks and (row["status"] == "corrected" or row["mask_file"]):
            what = "is marked corrected" if row["status"] == "corrected" else "was corrected"
            problems.append(
                f"review.csv: case {case} {what} but its mask file is missing; the "
                "original mask is used"
            )
            if row["status"] == "corrected":
                row["status"] = "unreviewed"
    for case in masks:
        # A mask without a row is a correction whose row was never written; a reviewer's
        # later decision on a corrected case (accepted, flagged) stands.
        row = rows.setdefault(case, {"case": case})
        if row.get("status") in (None, "", "unreviewed"):
            row["status"] = "corrected"
    return masks, Tables(rows, log)
