"""Where a dataset's corrections store lives: beside the dataset, or where the user chose.

A dataset is a folder (of ``.mat`` files, a NumPy bundle, or NRRD/NIfTI files); one ``.mat``
or medical file belongs to the dataset of its folder, so a slice opened alone and its folder
share one store. The default store is the sibling folder ``<dataset>.corrections``, which keeps
it out of the dataset (a recursive ``*.mat`` search of the dataset never finds a correction)
and never touches a source file. When the user picks another folder (the dataset's parent is
read-only, or the dataset sits on a shared drive), the choice is remembered per user in
``corrections.yaml`` of the configuration folder, so reopening the dataset finds it again.
Setting ``NAPARI_RADIOMICS_CORRECTIONS_HOME`` keeps every dataset's store under that folder
instead (``<name>-<hash of the dataset's path>.corrections``), for datasets that all live on
read-only or shared storage. That folder must be an absolute path: a relative one would name
another folder in every working directory, so the viewer would save corrections in one place
and ``extract`` started elsewhere would measure the original masks; it is refused, saying so.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from napari_radiomics._atomic import replaced
from napari_radiomics._lock import updating
from napari_radiomics._yaml import load_yaml
from napari_radiomics.errors import CorrectionsError

__all__ = ["STORE_SUFFIX", "config_dir", "dataset_folder", "remember_store", "store_dir_for"]

STORE_SUFFIX = ".corrections"
HOME_VARIABLE = "NAPARI_RADIOMICS_CORRECTIONS_HOME"


def config_dir() -> Path:
    """This user's configuration folder (``$XDG_CONFIG_HOME/napari-radiomics``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "napari-radiomics"


def dataset_folder(path: str | Path) -> Path:
    """The dataset ``path`` belongs to: itself for a folder, else the file's folder."""
    path = Path(path).absolute()
    return path if path.is_dir() else path.parent


def _registry() -> Path:
    return config_dir() / "corrections.yaml"


def _chosen() -> dict[str, str]:
    try:
        data = load_yaml(_registry().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError):
        return {}  # no choice made yet, or a broken file: the default location applies
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def store_dir_for(dataset: str | Path) -> Path:
    """The store of ``dataset``: the folder the user chose for it, else the default.
    Raises CorrectionsError if ``NAPARI_RADIOMICS_CORRECTIONS_HOME`` is a relative path."""
    folder = dataset_folder(dataset)
    chosen = _chosen().get(str(folder))
    if chosen:
        return Path(chosen)
    home = os.environ.get(HOME_VARIABLE)
    if home:
        if not Path(home).is_absolute():
            raise CorrectionsError(
                Path(home),
                f"{HOME_VARIABLE} is a relative path, which would name another folder in "
                "every working directory; set it to an absolute path",
            )
        tag = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:8]
        return Path(home) / f"{folder.name}-{tag}{STORE_SUFFIX}"
    return folder.parent / f"{folder.name}{STORE_SUFFIX}"


def remember_store(dataset: str | Path, store: str | Path) -> None:
    """Record the user's choice of store for ``dataset`` (replacing an earlier one). Two
    processes (two napari sessions) recording at once take turns on ``corrections.lock``,
    so neither writes back a registry without the other's choice."""
    with updating(_registry()):
        chosen = _chosen()
        chosen[str(dataset_folder(dataset))] = str(Path(store).absolute())
        with replaced(_registry()) as tmp:
            tmp.write_text(yaml.safe_dump(chosen, sort_keys=True), encoding="utf-8")
