"""The "Feature maps" dock: voxel-wise feature maps of the chosen image and ROI, as a layer.

The numbers are the core's :func:`~napari_radiomics.engine.maps.feature_maps` (the CLI's
``maps`` too), run in a worker thread by the dock's :class:`._runner.Runner` (progress in the
dock and napari's activity dock; Cancel makes the next progress call raise, and the core calls
it after every batch of voxels, well under a second apart). The settings are chosen as in the
Batch and Robustness docks (a preset, a params file or the Extract features dock's, through
``settings_choice.choose_settings``), with the dock's kernel radius and masking.

One map is shown at a time, in one Image layer named after it; the "map shown" list swaps the
layer's data, name and contrast limits. napari takes 0.2-0.7 s of the GUI thread to add a
layer (its controls, its vispy visual), so a layer per map froze the viewer for seconds (18
firstorder maps: 9.4 s), while swapping the data of a layer takes milliseconds; a new run
reuses the layer. The layer holds only the block of voxels that has values (the ROI's box,
as the CLI writes it), as float32, placed with the source's scale, rotation, shear and affine
and a translate that puts its first voxel on the image's voxel it stands for: a full-grid
float64 layer per map was the image's size in memory for every map. NaN outside the computed
voxels; contrast limits from the map's 1st-99th percentiles, taken in the run's worker for
every map (with the first map's float32 block), not on the GUI thread when a map is shown.
Hovering shows the voxel under the cursor's value of every map (the float64 values the files
hold) in a small table, rebuilt only when the cursor moves to another voxel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    Label,
    ProgressBar,
    PushButton,
    Select,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.utils.notifications import show_error
from napari.utils.transforms import CompositeAffine
from qtpy.QtWidgets import QFormLayout, QHeaderView, QSizePolicy, QWidget

from napari_radiomics._napari._inputs import is_stack
from napari_radiomics._napari._runner import Progress, Runner
from napari_radiomics._napari._settings_choice import PARAMS_FILE, SettingsChoice
from napari_radiomics._napari._table_model import DataFrameModel, table_view
from napari_radiomics._napari._workspace import SIDE, scroll_area, settle, show_rows
from napari_radiomics.engine.maps import (
    FeatureMap,
    feature_maps,
    map_feature_choices,
    voxel_settings,
)
from napari_radiomics.preprocess import PreprocessedImage
from napari_radiomics.settings import ExtractionSettings

if TYPE_CHECKING:
    import napari.viewer

REGION_ROI, REGION_BOX = "ROI", "bounding box + margin"
#: Percentiles of a map's values that set its contrast limits (robust to a few outliers).
CONTRAST_PERCENTILES = (1.0, 99.0)
COLORMAP = "inferno"
#: The settings a new dock starts with: pyradiomics' own, as the ``maps`` command's.
DEFAULT_SETTINGS = "pyradiomics-default"
#: The key of ``layer.metadata`` that marks the dock's map layer (its value: the map's name).
MAP_KEY = "feature_map"


def contrast_limits(values: np.ndarray) -> tuple[float, float]:
    """The map's 1st and 99th percentiles, widened when the map is flat (napari needs
    low < high); (0, 1) for a map without any value."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(finite, CONTRAST_PERCENTILES))
    if high <= low:
        high = low + max(abs(low) * 1e-6, 1e-12)
    return low, high


@dataclass(frozen=True)
class Computed:
    """A run's maps as the worker hands them over: the maps, each one's contrast limits, and
    the first map's block as the float32 its layer shows."""

    maps: dict[str, FeatureMap]
    limits: dict[str, tuple[float, float]]
    ready: dict[str, np.ndarray]

    @classmethod
    def of(cls, maps: dict[str, FeatureMap]) -> Computed:
        """Worked out in the worker thread (a percentile sorts a map's values)."""
        limits = {name: contrast_limits(feature_map.values) for name, feature_map in maps.items()}
        ready = {name: maps[name].values.astype(np.float32) for name in list(maps)[:1]}
        return cls(maps, limits, ready)


def box_placement(source: Any, offset: tuple[int, ...]) -> dict[str, Any]:
    """The layer parameters that put a block whose first voxel is ``source``'s voxel
    ``offset`` over that voxel: the source's scale, rotation, shear and affine, and its
    translate moved by the offset through the same scale, rotation and shear."""
    linear = CompositeAffine(
        scale=source.scale, rotate=source.rotate, shear=source.shear, ndim=source.ndim
    ).linear_matrix
    translate = np.asarray(source.translate) + linear @ np.asarray(offset, dtype=np.float64)
    return {
        "scale": source.scale,
        "rotate": source.rotate,
        "shear": source.shear,
        "affine": source.affine,
        "translate": translate,
    }


def _same(current: Any, wanted: Any) -> bool:
    """Whether a layer's scale, rotation, shear, affine or translate already is ``wanted``."""
    matrix = getattr(current, "affine_matrix", current)
    return np.array_equal(matrix, getattr(wanted, "affine_matrix", wanted))


class MapsWidget(Container):
    """Layers, features, kernel and region; Run / Cancel; the hovered voxel's values."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        self.viewer = viewer
        self.runner = Runner(self.native)
        self.maps: dict[str, FeatureMap] = {}
        #: Each map's contrast limits, and the first map's block as float32: worked out in the
        #: run's worker, so a map arriving or chosen does not sort its values on the GUI thread.
        self._limits: dict[str, tuple[float, float]] = {}
        self._ready: dict[str, np.ndarray] = {}
        self._source: Any = None  # the image layer the shown maps were computed on
        self._voxel: tuple[int, ...] | None = None
        self._running_on: Any = None  # the image layer of the run in flight
        #: The last images' preprocessing (N4 costs seconds): another kernel radius, feature
        #: or ROI label on the same image does not correct it again.
        self.preprocessed = PreprocessedImage(size=2)

        def layers_of(kind: type) -> Any:
            return lambda _: [layer for layer in viewer.layers if isinstance(layer, kind)]

        self.image = ComboBox(label="image", choices=layers_of(Image))
        self.labels = ComboBox(label="labels", choices=layers_of(Labels))
        self.roi_label = SpinBox(label="ROI label", min=1, max=2**31 - 1, value=1)
        self.choice = SettingsChoice(viewer, self.native)
        self.choice.combo.setCurrentText(DEFAULT_SETTINGS)
        settings_rows = QWidget()
        rows = QFormLayout(settings_rows)
        rows.setContentsMargins(0, 0, 0, 0)
        self.choice.add_rows(rows)
        # The params file's row only when a params file is chosen, and the map chooser only
        # once there are maps: the hover table stays in sight on a 1366x768 screen.
        params_row = (rows.labelForField(rows.itemAt(1, rows.ItemRole.FieldRole).widget()),
                      rows.itemAt(1, rows.ItemRole.FieldRole).widget())  # fmt: skip

        def params_chosen(choice: str) -> None:
            for widget in params_row:
                widget.setVisible(choice == PARAMS_FILE)

        self.choice.combo.currentTextChanged.connect(params_chosen)
        params_chosen(self.choice.combo.currentText())
        self.features = Select(label="features", choices=map_feature_choices(),
                               value=["glcm_Contrast"])  # fmt: skip
        self.features.native.setMinimumHeight(130)
        self.radius = SpinBox(label="kernel radius (voxels)", min=1, max=10, value=1)
        self.masked = CheckBox(text="masked kernel (only ROI voxels)", value=True)
        self.region = ComboBox(label="region", choices=[REGION_ROI, REGION_BOX])
        # The margin's row (shown with the box region) and the map chooser's two rows (shown
        # once there are maps) are built when first needed: hidden, they were a fifth of the
        # dock's widgets to build and lay out at docking (see the properties below).
        self._margin: SpinBox | None = None
        self._shown: ComboBox | None = None
        self._keep_button: PushButton | None = None
        self.run_button = PushButton(text="Compute maps")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.bar = ProgressBar(label="progress", value=0)
        self.status = Label(value="")
        self.hovered = Label(value="")
        for label in (self.status, self.hovered):
            label.native.setWordWrap(True)  # long layer names wrap in the dock's width
            label.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self._form = form = Container(labels=True, widgets=[
            self.image, self.labels, self.roi_label, self.features, self.radius,
            self.masked, self.region,
            Container(widgets=[self.run_button, self.cancel_button], layout="horizontal",
                      labels=False),
            self.bar, self.status, self.hovered])  # fmt: skip
        form.native.layout().insertWidget(3, settings_rows)  # after the ROI label
        self.append(form)  # a child for magicgui (choices refresh), scrolling for Qt
        self.values = DataFrameModel(pd.DataFrame())
        self.table = table_view(self.values)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        show_rows(self.table)
        form.native.layout().addWidget(self.table)
        self.native.layout().addWidget(scroll_area(form.native))
        settle(self.native, SIDE)

        events = viewer.layers.events
        for event in (events.inserted, events.removed, events.renamed):
            # The method napari connects when it docks the dock: connected once, one reset
            # per change of the layers (it was two: this dock's handler and napari's).
            event.connect(self.reset_choices)
        self.image.changed.connect(self._image_chosen)
        self.region.changed.connect(self._region_chosen)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        signals = self.runner.signals
        signals.progressed.connect(self._progressed)
        signals.finished.connect(self._finished)
        signals.cancelled.connect(self._cancelled)
        signals.failed.connect(self._failed)
        signals.idle.connect(self._idle)
        viewer.cursor.events.position.connect(self._cursor_moved)
        self.reset_choices()

    # ------------------------------------------------------------------- rows built late
    @property
    def margin(self) -> SpinBox:
        """The box region's margin, in its row after the region's: built the first time the
        box region is chosen or the margin is asked for, then kept (its value with it)."""
        if self._margin is None:
            self._margin = SpinBox(label="margin (voxels)", min=0, max=100, value=2)
            self._margin_rows = self._late_rows([self._margin], after=self.region)
            self._region_chosen()
        return self._margin

    def _region_chosen(self, *_: Any) -> None:
        if self._margin is not None or self.region.value == REGION_BOX:
            self.margin.visible = self._margin_rows.visible = self.region.value == REGION_BOX

    def _late_rows(self, widgets: list[Any], after: Any) -> Container:
        """``widgets``, labelled as the form's rows are (each label its own width), in rows
        under ``after``'s row. Their own container: inserting into the form would make
        magicgui align every label of the dock, shown, to the widest."""
        rows = Container(labels=True, widgets=widgets)
        rows.margins = (0, 0, 0, 0)
        layout = self._form.native.layout()
        layout.insertWidget(layout.indexOf(after.native.parentWidget()) + 1, rows.native)
        return rows

    @property
    def shown(self) -> ComboBox:
        """The "map shown" list, after the status line; hidden until there are maps. Built,
        with the Keep button under it, when the first run starts (a click far under the bar,
        where the first map's arrival is napari adding its layer) or either is asked for."""
        if self._shown is None:
            self._map_rows()
        assert self._shown is not None
        return self._shown

    @property
    def keep_button(self) -> PushButton:
        """The "Keep as its own layer" button, under the "map shown" list (built with it)."""
        if self._keep_button is None:
            self._map_rows()
        assert self._keep_button is not None
        return self._keep_button

    def _map_rows(self) -> None:
        # Its choices are read back from self.maps whenever the layers change (magicgui's
        # reset_choices), so they are a function, not a list.
        shown = ComboBox(label="map shown", choices=lambda _: list(self.maps), visible=False)
        keep = PushButton(
            text="Keep as its own layer", visible=False,
            tooltip="a copy of the map shown, which stays when another map is shown: maps side "
            "by side, or one to keep while the dock computes others",
        )  # fmt: skip
        self._shown, self._keep_button = shown, keep
        self._map_rows_box = self._late_rows([shown, keep], after=self.status)
        self._map_rows_box.visible = False
        shown.changed.connect(self._show)
        keep.changed.connect(self.keep_shown)

    # ------------------------------------------------------------------------------ run
    def settings(self) -> ExtractionSettings:
        """The chosen settings (a preset, a params file or the Extract features dock's) with
        the kernel radius and masking of the controls; ValueError naming what is wrong."""
        return voxel_settings(
            self.choice.settings(),
            kernel_radius=self.radius.value,
            masked_kernel=bool(self.masked.value),
        )

    def run(self, *_: Any) -> bool:
        """Start computing the maps; False (with the reason in the dock) if refused."""
        image, labels = self.image.value, self.labels.value
        problem = None
        if image is None or labels is None:
            problem = "choose an image layer and a labels layer (open a case first)"
        elif is_stack(image) or is_stack(labels):
            problem = f"{image.name!r} is a stack of separate slices: open one slice to map it"
        elif not self.features.value:
            problem = "choose at least one feature class or feature"
        else:
            try:
                settings = self.settings()
            except ValueError as err:  # SettingsError too: a bad params file or preset
                problem = str(err)
        if problem is not None:
            self.status.value = f"Cannot start: {problem}"
            return False
        options = {"features": list(self.features.value), "label": self.roi_label.value}
        if self.region.value == REGION_BOX:
            options |= {"region": "box", "margin": self.margin.value}

        def work(progress: Progress) -> Computed:
            maps = feature_maps(
                image,
                labels,
                settings,
                progress=progress,
                preprocessed=self.preprocessed,
                **options,
            )
            return Computed.of(maps)

        self.runner.run(work, f"Feature maps of {image.name}")
        if self._shown is None:  # hidden: built now, not with the first map's layer
            self._map_rows()
        self._running_on = image
        self.bar.value = 0
        self.cancel_button.enabled = True
        self.run_button.enabled = False
        self.status.value = f"Computing maps of {image.name}…"
        return True

    def cancel(self, *_: Any) -> None:
        """Stop the run in flight (at its next batch of voxels); no layer is added."""
        self.runner.cancel()
        self.status.value = "Cancelling…"

    def _progressed(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.bar.max = total
            self.bar.value = done
            self.status.value = f"{message}…"

    def _finished(self, computed: Computed, seconds: float) -> None:
        maps = computed.maps
        self.maps, self._source, self._voxel = maps, self._running_on, None
        self._limits, self._ready = computed.limits, computed.ready
        first = next(iter(maps), None)
        with self.shown.changed.blocked():
            self.shown.reset_choices()
            self.shown.value = first
        self.shown.visible = self.keep_button.visible = self._map_rows_box.visible = bool(maps)
        if first is not None:
            self._show(first)
        self.status.value = f"{len(maps)} map(s) of {self._source.name} in {seconds:.1f} s"

    @property
    def map_layer(self) -> Image | None:
        """The layer the dock shows its maps in, if it is still in the viewer."""
        return next((layer for layer in self.viewer.layers if MAP_KEY in layer.metadata), None)

    def keep_shown(self) -> Image | None:
        """Add the map shown as a layer of its own, placed and coloured as the dock's, which
        the dock never reuses: one map layer at a time keeps a run light, this keeps several
        side by side when the user wants them."""
        layer = self.map_layer
        if layer is None:
            return None
        placement = {key: getattr(layer, key) for key in ("scale", "rotate", "shear", "affine")}
        placement["translate"] = layer.translate
        return self.viewer.add_image(
            np.array(layer.data), name=f"{layer.name} ({layer.metadata['source']})",
            colormap=layer.colormap, contrast_limits=layer.contrast_limits,
            opacity=layer.opacity, metadata={"kept map": layer.metadata[MAP_KEY]}, **placement,
        )  # fmt: skip

    def _show(self, name: str | None) -> None:
        """Show map ``name`` in the dock's layer: its block as float32, where it lies on the
        source, named after it, with its contrast limits; the layer is added on the first
        map and reused afterwards (its data swapped), unless the dimensions changed."""
        if not name or name not in self.maps:
            return
        feature_map, source = self.maps[name], self._source
        # The first map's block comes ready from the worker (once: the layer keeps it).
        data = self._ready.pop(name, None)
        if data is None:
            data = feature_map.values.astype(np.float32)
        placement = box_placement(source, feature_map.offset)
        limits = self._limits.get(name) or contrast_limits(feature_map.values)
        metadata = {MAP_KEY: name, "source": source.name}
        layer = self.map_layer
        if layer is not None and layer.ndim != data.ndim:
            self.viewer.layers.remove(layer)
            layer = None
        if layer is None:
            self.viewer.add_image(
                data, name=name, colormap=COLORMAP, contrast_limits=limits, opacity=0.85,
                metadata=metadata, **placement,
            )  # fmt: skip
            return
        # Each change refreshes the layer: the maps of one run share their placement, so
        # choosing another map changes only the data, the limits and the name.
        layer.data = data
        for key, value in placement.items():
            if not _same(getattr(layer, key), value):
                setattr(layer, key, value)
        low, high = layer.contrast_limits_range
        if limits[0] < low or limits[1] > high:
            layer.contrast_limits_range = limits
        layer.contrast_limits = limits
        layer.metadata = metadata
        layer.name = name

    def _cancelled(self, reason: str) -> None:
        self.status.value = f"Maps {reason}; no layer added."

    def _failed(self, message: str) -> None:
        self.status.value = f"Failed: {message}"
        show_error(f"Feature maps: {message}")

    def _idle(self) -> None:
        self.cancel_button.enabled = False
        self.run_button.enabled = True

    # ---------------------------------------------------------------------------- hover
    def _cursor_moved(self, *_: Any) -> None:
        """Show the hovered voxel's values; nothing is rebuilt while it stays on one voxel."""
        if not self.maps or self._source is None or self._source not in self.viewer.layers:
            return
        point = np.asarray(self.viewer.cursor.position)[-self._source.ndim :]
        index = tuple(int(i) for i in np.round(self._source.world_to_data(point)))
        if index == self._voxel:
            return
        self._voxel = index
        self.values.set_frame(self.voxel_values(index))
        self.hovered.value = f"voxel {index} of {self._source.name}"

    def voxel_values(self, index: tuple[int, ...]) -> pd.DataFrame:
        """Every shown map's value at data index ``index`` (NaN outside what was computed)."""
        values = {}
        for name, feature_map in self.maps.items():
            inside = all(
                o <= i < o + n
                for i, o, n in zip(index, feature_map.offset, feature_map.values.shape,
                                   strict=True)
            )  # fmt: skip
            local = tuple(i - o for i, o in zip(index, feature_map.offset, strict=True))
            values[name] = float(feature_map.values[local]) if inside else np.nan
        return pd.DataFrame({"value": values})

    # --------------------------------------------------------------------------- layers
    def reset_choices(self, *_: Any) -> None:
        """The layer lists (and the map list) read their choices again, and the image chosen
        brings its mask with it. The feature and region lists are fixed: magicgui's reset of
        every list re-set the 99 features one by one at each change of the layers."""
        for combo in (self.image, self.labels, self._shown):
            if combo is not None:
                combo.reset_choices()
        self._image_chosen()

    def _image_chosen(self, *_: Any) -> None:
        """Pick the image's mask with it (the readers name it "<image name> mask")."""
        layer = self.image.value
        if layer is None:
            return
        partner = next((lyr for lyr in self.labels.choices if lyr.name == f"{layer.name} mask"),
                       None)  # fmt: skip
        if partner is not None and self.labels.value is not partner:
            self.labels.value = partner
