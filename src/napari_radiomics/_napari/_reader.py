"""napari reader hook: brain-tumour ``.mat`` files and folders, NumPy bundles, NRRD/NIfTI/MHA.

``get_reader`` answers quickly from the path alone and returns None for what this plugin does
not handle, so napari can ask other readers. A file it does claim (any ``.mat``) that turns
out to be broken raises a :class:`ReadError` naming the file and the problem, which napari
shows to the user. In a folder (or a selection of several ``.mat`` files) a broken file, of
whatever kind, is a zero slice named in a warning and in ``metadata["slices"]``: the others
still open. A big folder's table is completed after its first slice shows; the rows read in
the background are put in place on the GUI thread, between two of its events (docks read
``metadata["slices"]`` there, and must never see half of an update).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtCore import QCoreApplication, QObject, Signal

from napari_radiomics._napari._warm import await_layer_libraries, layer_libraries, warm_up
from napari_radiomics.corrections import CaseRef, CorrectionSession, attach, stack_refs
from napari_radiomics.io import (
    MatStack,
    MedicalImage,
    NpyBundle,
    TumorSlice,
    open_mat_stack,
    open_path,
    path_kind,
    source_of,
)
from napari_radiomics.io.folder import Deliver

LayerData = tuple[Any, dict[str, Any], str]
ReaderFunction = Callable[[str | Sequence[str]], list[LayerData]]

SLICE_AXES = ("row", "col")
#: Seconds of header reading before a folder opens and the rest is read in the background.
#: GUI-thread time, so within the event loop's 100 ms bar (#19) with napari's share beside
#: it: a few hundred headers; the dataset's 3064 (1.5 s) complete the table a moment later.
#: The first 64 headers are read whatever it says (``io.folder.MIN_HEADERS``), so that on a
#: cold disk the common shape is not chosen from one or two files.
SCAN_BUDGET = 0.05
STACK_AXES = ("slice", "row", "col")


def get_reader(path: str | Sequence[str]) -> ReaderFunction | None:
    """The reader for ``path`` (a file, a folder or a list of them), or None if not ours."""
    if isinstance(path, str | Path):
        return read_paths if _handles(Path(path)) else None
    paths = [Path(p) for p in path]
    if paths and all(_handles(p) for p in paths):
        return read_paths
    return None


class _GuiThread(QObject):
    """Runs functions handed over from other threads on the GUI thread (a queued signal)."""

    call = Signal(object)

    def __init__(self, app: QCoreApplication) -> None:
        super().__init__()
        self.moveToThread(app.thread())
        self.call.connect(self._run)

    def _run(self, function: Callable[[], None]) -> None:
        function()


_relay: list[_GuiThread] = []  # one, made on first use; it must outlive every hand-over


def on_gui_thread() -> Deliver:
    """A ``deliver`` for :func:`open_mat_stack` that runs the step it is handed on the GUI
    thread when its event loop next runs; at once when there is no Qt application (then no
    GUI thread reads what the step changes)."""
    app = QCoreApplication.instance()
    if app is None:
        return lambda finish: finish()
    if not _relay:
        _relay.append(_GuiThread(app))
    return _relay[0].call.emit


def _handles(path: Path) -> bool:
    return path_kind(path) is not None


def read_paths(path: str | Sequence[str]) -> list[LayerData]:
    """Layers for one path, or for a list (a list of ``.mat`` files becomes one stack).

    What napari's first layer needs is built in the background while the files are read, and
    is ready before the layers are handed over (:func:`._warm.layer_libraries`). Data open
    is also when a session starts to need the docks' libraries: they are imported in the
    background from the next event on, once that is done (:func:`._warm.warm_up`)."""
    single = isinstance(path, str | Path) and Path(path).suffix.lower() == ".mat"
    layer_libraries(slice_first=single and Path(path).is_file())
    layers: list[LayerData] = []
    try:
        layers = _read_paths(path)
        return layers
    finally:
        await_layer_libraries(
            *(["shapes"] if any(kind == "shapes" for *_, kind in layers) else [])
        )
        warm_up()


def _read_paths(path: str | Sequence[str]) -> list[LayerData]:
    if isinstance(path, str | Path):
        return _read_one(Path(path))
    paths = [Path(p) for p in path]
    # A dangling link among them is a broken slice of the stack, not a reason to fail them all.
    sources = [source_of(p) for p in paths]
    if len(paths) > 1 and all(s is not None and s.kind == "mat" for s in sources):
        stack = open_mat_stack(paths, scan_budget=SCAN_BUDGET, deliver=on_gui_thread())
        return stack_layers(stack, f"{len(paths)} .mat files", paths[0])
    # The four files of a bundle, selected together, are one bundle (one source path).
    unique = dict.fromkeys(p if s is None else s.path for p, s in zip(paths, sources, strict=True))
    return [layer for p in unique for layer in _read_one(p)]


def _read_one(path: Path) -> list[LayerData]:
    opened = open_path(path, scan_budget=SCAN_BUDGET, deliver=on_gui_thread())
    if isinstance(opened, TumorSlice):
        return tumor_layers(opened)
    if isinstance(opened, MatStack):
        return stack_layers(opened, path.name, path)
    if isinstance(opened, NpyBundle):
        return bundle_layers(opened)
    return _medical_layers(opened)


def tumor_layers(tumor: TumorSlice) -> list[LayerData]:
    """Image, mask and border layers of one case, named and tagged with its identity."""
    name = f"{tumor.case} {tumor.tumor_type} (PID {tumor.patient_id})"

    def kwargs(**extra: Any) -> dict[str, Any]:
        # a new dict for each layer, so layers never share one
        return {"metadata": tumor.metadata.as_dict(), "axis_labels": SLICE_AXES, **extra}

    mask: Any = tumor.mask.astype(np.uint8)
    mask_kwargs = kwargs(name=f"{name} mask", opacity=0.5)
    if tumor.path is not None:  # a file's corrections are kept; a generated sample has none
        ref = CaseRef(tumor.case, "mat", str(tumor.path))
        mask = _corrected(attach(mask, [ref], tumor.path, stack=False), mask_kwargs)
    layers: list[LayerData] = [
        (tumor.image, kwargs(name=name, colormap="gray"), "image"),
        (mask, mask_kwargs, "labels"),
    ]
    if len(tumor.border) >= 3:
        border = kwargs(
            name=f"{name} border",
            shape_type="polygon",
            edge_color="yellow",
            face_color="transparent",
            edge_width=1.0,
        )
        layers.append(([tumor.border], border, "shapes"))
    return layers


def stack_layers(stack: MatStack, title: str, dataset: Path) -> list[LayerData]:
    """Lazy image and mask stacks; the per-slice table goes in ``metadata['slices']``."""
    await_layer_libraries("dask")  # computing a dask slice may import distributed: not twice
    first = np.asarray(stack.image[0])  # shown first anyway; avoids a scan for the range
    name = f"{title} ({len(stack.slices)} slices)"
    session = attach(stack.mask, stack_refs(stack.slices), dataset, stack=True)
    return _stack_pair(stack.image, session, stack.slices, name, first, "")


def bundle_layers(bundle: NpyBundle) -> list[LayerData]:
    """The bundle's memory-mapped arrays as image and mask stacks."""
    first = np.asarray(bundle.images[0])
    name = f"{bundle.folder.name} ({len(bundle.labels)} slices)"
    ids = (bundle.metadata(i) for i in range(len(bundle.labels)))
    refs = [
        CaseRef(m.case, "bundle", m.path, index=i, label=m.label, patient_id=m.patient_id)
        for i, m in enumerate(ids)
    ]
    session = attach(bundle.masks, refs, bundle.folder, stack=True)
    return _stack_pair(bundle.images, session, bundle.slices, name, first, str(bundle.folder))


def _corrected(session: CorrectionSession, kwargs: dict[str, Any]) -> Any:
    """The session's self-saving mask; says so in the layer and warns when it cannot save."""
    store = session.store
    kwargs["metadata"]["corrections"] = str(store.root)
    for problem in store.problems:
        warnings.warn(f"corrections store: {problem}", UserWarning, stacklevel=2)
    if not store.writable:
        warnings.warn(
            f"{store.root}: {store.read_only}; corrections painted now stay in memory only. "
            "Choose another corrections folder in the Review dock to keep them.",
            UserWarning,
            stacklevel=2,
        )
    session.listeners.append(_warn_problem)
    return session.mask


def _warn_problem(_index: int, event: str) -> None:
    """What the user must hear of a session, whichever docks are open (napari turns the
    warning into a notification; the Review dock lists both too): a stored correction found
    unusable when its slice is first shown, and a correction that could not be saved (a full
    disk, a store gone read-only), which used to be told only by an open Review dock."""
    if event.startswith("problem: "):
        problem = event.removeprefix("problem: ")
        warnings.warn(f"corrections store: {problem}", UserWarning, stacklevel=2)
    elif event.startswith("error: "):
        warnings.warn(
            f"correction not saved: {event.removeprefix('error: ')}. It stays in memory and "
            "is saved once the store takes a save again (a stroke after you free some space) "
            "or at exit; or choose another corrections folder in the Review dock",
            UserWarning,
            stacklevel=2,
        )


def _stack_pair(
    image: Any, session: CorrectionSession, slices: Any, name: str, first: np.ndarray, path: str
) -> list[LayerData]:
    low, high = float(first.min()), float(first.max())
    shared = {"slices": slices, "path": path, "case": name}
    image_kwargs = {
        "name": name,
        "metadata": dict(shared),
        "axis_labels": STACK_AXES,
        "colormap": "gray",
        "contrast_limits": (low, high if high > low else low + 1.0),
    }
    mask_kwargs = {
        "name": f"{name} mask",
        "metadata": dict(shared),
        "axis_labels": STACK_AXES,
        "opacity": 0.5,
    }
    # Lazy (or memory-mapped) masks cannot be painted on; the session's editable stack keeps
    # the edited slices, shows the stored corrections and saves every edit.
    mask = _corrected(session, mask_kwargs)
    return [(image, image_kwargs, "image"), (mask, mask_kwargs, "labels")]


def _medical_layers(medical: MedicalImage) -> list[LayerData]:
    path = medical.path
    ndim = medical.data.ndim - bool(medical.channels)  # the maps' channel axis is no space axis
    axes = ("z", "y", "x")[-ndim:] if ndim <= 3 else None
    case = medical.metadata.case
    kwargs = {
        **medical.layer_kwargs,
        "name": case,
        "metadata": medical.metadata.as_dict() | medical.geometry,
        **({"axis_labels": axes} if axes else {}),
    }
    if medical.is_mask:
        spacing = tuple(float(v) for v in reversed(medical.geometry["spacing"]))
        ref = CaseRef(case, "medical", str(path), spacing=spacing)
        mask_kwargs = {**kwargs, "opacity": 0.5}
        mask = _corrected(attach(medical.data, [ref], path, stack=False), mask_kwargs)
        return [(mask, mask_kwargs, "labels")]
    if medical.channels:
        return [(medical.data, _maps_kwargs(medical, kwargs), "image")]
    return [(medical.data, kwargs, "image")]


def _maps_kwargs(medical: MedicalImage, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A ``maps --single-file`` file as napari's ``channel_axis`` makes it: one image layer per
    map, named by its feature, all on the file's grid. Only the first map is shown, opaque:
    93 maps blended together (napari's default for channels) would show none of them."""
    names = medical.channels
    return {
        **kwargs,
        "channel_axis": medical.data.ndim - 1,
        "name": list(names),  # as a map of its own file is named
        "metadata": [{**kwargs["metadata"], "feature": name} for name in names],
        "colormap": "viridis",
        "blending": "translucent",
        "visible": [index == 0 for index in range(len(names))],
    }
