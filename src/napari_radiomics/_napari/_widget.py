"""The "Extract features" dock: choose layers and settings, extract, correct the mask, repeat.

The settings are a :class:`._settings_form.SettingsForm`, built from the fields of
:class:`~napari_radiomics.settings.ExtractionSettings` (the preset or loaded file is the base, so
settings without a control travel unchanged): ``settings()`` reads it, ``apply_settings`` shows
a settings object. Every change re-checks the combination and explains what pyradiomics would
refuse or skip before anything runs.
Extraction happens in a worker thread (the dock's :class:`._runner.Runner`, on an engine kept by
:mod:`._engines`); results go to the results dock and to
the labels layer's ``features``. With "auto re-extract" on, a paint stroke, erase or fill in the
labels layer starts a new run after a short debounce, on the engine kept for that image, so the
new run sits next to the previous one in the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from magicgui.widgets import CheckBox, ComboBox, Container, Label, LineEdit, PushButton
from napari.layers import Image, Labels
from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog, QSizePolicy

from napari_radiomics._napari._controls import PLUGIN
from napari_radiomics._napari._engines import EngineCache
from napari_radiomics._napari._inputs import (
    ExtractionJob,
    build_job,
    check_job,
    is_stack,
    parse_label_list,
)
from napari_radiomics._napari._results import get_results_widget
from napari_radiomics._napari._runner import Runner
from napari_radiomics._napari._settings_form import SettingsForm
from napari_radiomics._napari._sources import refuse_viewer_sources
from napari_radiomics._napari._workspace import SIDE, compact, scroll_area, settle
from napari_radiomics.errors import WriteError
from napari_radiomics.results import layer_features
from napari_radiomics.settings import PRESETS, ExtractionSettings

#: The IBSI compliance dock's name in the plugin's manifest.
IBSI_DOCK = "IBSI compliance"

if TYPE_CHECKING:
    import napari.viewer
    import pandas as pd

ROI_ALL, ROI_SELECTED, ROI_LIST = "all labels", "selected label", "these labels:"
#: Debounce between the end of a mask edit and the automatic re-extraction.
DEBOUNCE_MS = 300


class ExtractionWidget(Container):
    """Settings, layer pickers and the Extract/Cancel buttons (Plugins > napari-radiomics)."""

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        super().__init__(labels=False)
        self.viewer = viewer
        self.runner = Runner(self.native)
        self.engines = EngineCache()
        self.last_run: str | None = None
        self._watched: Any = None
        self._run_layers: tuple[Any, Any] = (None, None)  # (image, labels) of the current run
        self.debounce_timer = QTimer()
        self.debounce_timer.setSingleShot(True)
        self.debounce_timer.setInterval(DEBOUNCE_MS)
        self.debounce_timer.timeout.connect(self._auto_extract)
        # the dock's child: it never fires for a dock napari has deleted
        self._results_timer = QTimer(self.native)
        self._results_timer.setSingleShot(True)
        self._results_timer.setInterval(0)
        self._results_timer.timeout.connect(self._dock_results)
        self._build()
        self._connect()
        self._layers_changed()

    # ----------------------------------------------------------------------------- layout
    def _build(self) -> None:
        def layers_of(kind: type) -> Any:
            return lambda _: [layer for layer in self.viewer.layers if isinstance(layer, kind)]

        self.image = ComboBox(label="image", choices=layers_of(Image))
        self.labels = ComboBox(label="labels", choices=layers_of(Labels))
        self.roi_mode = ComboBox(label="ROI", choices=[ROI_ALL, ROI_SELECTED, ROI_LIST])
        self.roi_list = LineEdit(label="labels", value="1")
        self.current_slice = CheckBox(text="current slice only (stack)")
        self.preset = ComboBox(label="preset", choices=list(PRESETS), value="pyradiomics-default")
        self.form = SettingsForm(ExtractionSettings.preset(self.preset.value))
        self.load_button = PushButton(text="Load params…")
        self.save_button = PushButton(text="Save params…")
        self.ibsi_button = PushButton(
            text="IBSI compliance…",
            tooltip="Which of pyradiomics' features reproduce the IBSI reference values, "
            "measured on the IBSI digital phantom",
        )
        self.auto = CheckBox(text="auto re-extract when the mask changes")
        self.extract_button = PushButton(text="Extract")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.problems = Label(value="")
        self.status = Label(value="")
        for label in (self.problems, self.status):
            label.native.setWordWrap(True)  # long messages wrap in the dock's width
            label.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
            label.native.setMinimumWidth(240)

        def row(*widgets: Any) -> Container:
            return Container(widgets=list(widgets), layout="horizontal", labels=False)

        form = Container(
            labels=False,
            widgets=[
                Container(widgets=[self.image, self.labels, self.roi_mode, self.roi_list]),
                self.current_slice,
                Container(widgets=[self.preset]),
                self.form,
                row(self.load_button, self.save_button),
                self.ibsi_button,
                self.auto,
            ],
        )
        self.append(form)  # a child for magicgui (choices refresh), scrolling for Qt
        compact(form.native)
        # Rows at their own height, the room left below them: on a tall screen the rows
        # were spread over the dock, with gaps between the settings.
        form.native.layout().addStretch(1)
        self.native.layout().addWidget(scroll_area(form.native))
        # The button and what it says stay below the scrolling settings, on screen however
        # tall the form grows (more settings opened, preprocessing ticked) on a laptop.
        self._footer = Container(
            labels=False,
            widgets=[self.problems, row(self.extract_button, self.cancel_button), self.status],
        )
        compact(self._footer.native)
        self.native.layout().addWidget(self._footer.native)  # below, whatever magicgui inserts
        settle(self.native, SIDE)

    def _connect(self) -> None:
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered, events.renamed):
            event.connect(self._layers_changed)
        self.viewer.dims.events.current_step.connect(self._slice_changed)
        self.preset.changed.connect(self._preset_chosen)
        self.image.changed.connect(self._image_chosen)
        self.labels.changed.connect(self._watch_labels)
        for widget in (self.roi_mode, self.roi_list, self.current_slice, self.form):
            widget.changed.connect(self.check)
        self.load_button.changed.connect(self._load_dialog)
        self.save_button.changed.connect(self._save_dialog)
        self.ibsi_button.changed.connect(self.show_ibsi)
        self.extract_button.changed.connect(self.extract)
        self.cancel_button.changed.connect(self.cancel)
        signals = self.runner.signals
        signals.finished.connect(self._finished)
        signals.cancelled.connect(self._cancelled)
        signals.failed.connect(self._failed)
        signals.progressed.connect(self._progressed)

    # ------------------------------------------------------------------------ settings
    def settings(self) -> ExtractionSettings:
        """The settings the form describes, on top of the preset or loaded file (so what has
        no control travels unchanged). Raises ValueError (SettingsError) naming a bad value."""
        return self.form.settings()

    def apply_settings(self, settings: ExtractionSettings) -> None:
        """Show ``settings`` in the form (one check at the end, not one per control)."""
        self.form.show(settings)
        self.check()

    def load_params(self, path: str) -> None:
        """Load a pyradiomics params file (YAML/JSON) into the controls."""
        self.apply_settings(ExtractionSettings.load(path))
        self.status.value = f"Loaded settings from {path}"

    def save_params(self, path: str) -> None:
        """Save the current settings as a pyradiomics params file; a file the viewer reads
        (a corrections store's ``store.yaml``, by any name) is refused (WriteError)."""
        refuse_viewer_sources(self.viewer, path)
        self.settings().save(path)
        self.status.value = f"Saved settings to {path}"

    # -------------------------------------------------------------------------- checks
    def slice_index(self) -> int | None:
        """Index of the slice shown (first axis of the image) when 'current slice only' is on."""
        layer = self.image.value
        if layer is None or not self.current_slice.value or layer.ndim != 3:
            return None
        position = layer.world_to_data(self.viewer.dims.point)
        return int(min(max(round(position[0]), 0), layer.data.shape[0] - 1))

    def roi_labels(self) -> list[int] | None:
        """The ROI labels chosen (``None``: every label in the mask)."""
        if self.roi_mode.value == ROI_SELECTED and self.labels.value is not None:
            return [int(self.labels.value.selected_label)]
        if self.roi_mode.value == ROI_LIST:
            return parse_label_list(self.roi_list.value)
        return None

    def job(self) -> tuple[ExtractionJob, ExtractionSettings]:
        """The job and settings a press on Extract would run; raises ValueError if incomplete."""
        if self.image.value is None or self.labels.value is None:
            raise ValueError("choose an image layer and a labels layer (open a case first)")
        settings = self.settings()
        job = build_job(self.image.value, self.labels.value, labels=self.roi_labels(),
                        slice_index=self.slice_index())  # fmt: skip
        return job, settings

    def check(self, *_: Any) -> bool:
        """Explain in the widget what pyradiomics would refuse or skip; True when runnable."""
        return self._checked() is not None

    def _checked(self) -> tuple[ExtractionJob, ExtractionSettings] | None:
        """:meth:`check`, and the job and settings it checked when they can run."""
        self.roi_list.visible = self.roi_mode.value == ROI_LIST
        runnable = None
        try:
            job, settings = self.job()
            checked = check_job(job, settings)
            text, ok = checked.text(), checked.ok
            runnable = (job, settings) if ok else None
        except ValueError as exc:
            text, ok = f"ERROR: {exc}", False
        self.problems.value = text
        self.problems.visible = bool(text)
        self.extract_button.enabled = ok
        return runnable

    # --------------------------------------------------------------------------- runs
    def extract(self, *_: Any) -> bool:
        """Start an extraction with the current layers and settings; False if refused."""
        runnable = self._checked()
        if runnable is None:
            layer = self.labels.value or self.image.value
            name = layer.name if layer is not None else "napari-radiomics"
            show_error(f"{name}: {self.problems.value.splitlines()[0].removeprefix('ERROR: ')}")
            return False
        job, settings = runnable  # the job checked runs: the slice shown is read once
        key = (id(self.image.value), job.slice_index)
        title = f"Extracting {job.mask.name}"
        self.runner.run(self.engines.extraction(job, key, settings), title)
        self._run_layers = (self.image.value, self.labels.value)
        self.cancel_button.enabled = True
        self.status.value = f"{title}…"
        # The results dock, where the run will land, docks now, in the next event, while the
        # worker extracts: docking it with the result made one block of the two.
        self._results_timer.start()
        return True

    def _dock_results(self) -> None:
        if self.runner.running:  # else the run has ended: its result docked it, or nothing will
            get_results_widget(self.viewer)

    def cancel(self, *_: Any) -> None:
        """Stop the run in flight; nothing from it reaches the table."""
        self.runner.cancel()
        self.status.value = "Cancelling…"

    def _progressed(self, done: int, total: int, message: str) -> None:
        if total > 0:
            self.status.value = f"{done}/{total} {message}"

    def _finished(self, frame: pd.DataFrame, seconds: float) -> None:
        self.cancel_button.enabled = False
        results = get_results_widget(self.viewer)
        self.last_run = results.add_run(frame)
        labels_layer = self._run_layers[1]  # the run's layer, even if the choice changed since
        if labels_layer is not None:
            labels_layer.features = layer_features(frame)  # a new frame: napari emits events
        errors = frame.attrs.get("errors") or {}
        skipped = "; ".join(f"label {k}: {v}" for k, v in errors.items())
        self.status.value = f"{self.last_run}: {len(frame)} ROI(s) in {seconds:.2f} s" + (
            f" (not computed: {skipped})" if skipped else ""
        )

    def _cancelled(self, reason: str) -> None:
        if not self.runner.running:
            self.cancel_button.enabled = False
        if reason == "cancelled" or not self.runner.running:
            self.status.value = f"Run {reason}; no result added."

    def _failed(self, message: str) -> None:
        self.cancel_button.enabled = False
        names = " / ".join(layer.name for layer in self._run_layers if layer is not None)
        self.status.value = f"Failed: {message}"
        show_error(f"{names}: {message}")

    # ------------------------------------------------------------------------- events
    def _layers_changed(self, *_: Any) -> None:
        with self.image.changed.blocked(), self.labels.changed.blocked():
            self.reset_choices()
        self._image_chosen()

    def _image_chosen(self, *_: Any) -> None:
        """Pair the image with its mask and its slice option, then check once: each check
        reads the slice shown, and the three changes checking each (0.1-0.3 s on a
        3064-slice stack) were what docking the dock spent after building it."""
        layer = self.image.value
        with self.labels.changed.blocked(), self.current_slice.changed.blocked():
            # The reader names a case's mask "<image name> mask": pick it with its image.
            if layer is not None:
                name = f"{layer.name} mask"
                partner = next((lyr for lyr in self.labels.choices if lyr.name == name), None)
                if partner is not None and self.labels.value is not partner:
                    self.labels.value = partner
            stack = layer is not None and layer.ndim == 3
            self.current_slice.enabled = stack
            if layer is not None and is_stack(layer):
                self.current_slice.value = True
        self._watch_labels()

    def _slice_changed(self, *_: Any) -> None:
        if self.current_slice.value:
            self.check()

    def _preset_chosen(self, *_: Any) -> None:
        self.apply_settings(ExtractionSettings.preset(self.preset.value))

    def _watch_labels(self, *_: Any) -> None:
        """Follow edits of the chosen labels layer (and only that one), and check."""
        self._follow(self.labels.value)
        self.check()

    def _follow(self, layer: Any) -> None:
        if layer is self._watched:
            return
        if self._watched is not None:
            self._watched.events.paint.disconnect(self._mask_edited)
            self._watched.events.data.disconnect(self._mask_edited)
            self._watched.events.selected_label.disconnect(self.check)
        if layer is not None:
            layer.events.paint.connect(self._mask_edited)
            layer.events.data.connect(self._mask_edited)
            layer.events.selected_label.connect(self.check)
        self._watched = layer

    def _mask_edited(self, *_: Any) -> None:
        """A stroke/fill/erase ended: a run in flight is stale; re-extract if asked to."""
        if self.runner.running:
            self.runner.supersede()
            self.status.value = "The mask changed during the run: that run was dropped."
        if self.auto.value:
            self.debounce_timer.start()  # the run checks the edited mask when it starts
        else:
            self.check()

    def _auto_extract(self) -> None:
        self.extract()

    def _load_dialog(self, *_: Any) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.native, "Load pyradiomics params", "", "Params (*.yaml *.yml *.json)"
        )
        if path:
            self.load_params(path)

    def _save_dialog(self, *_: Any) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.native, "Save pyradiomics params", "params.yaml", "Params (*.yaml *.json)"
        )
        if path:
            try:
                self.save_params(path)
            except (WriteError, ValueError) as exc:  # SettingsError too: a suffix it refuses
                show_error(f"Settings not saved: {exc}")

    def show_ibsi(self, *_: Any) -> None:
        """The IBSI compliance dock, one click from the settings whose conformance it reports
        (napari brings an open one forward instead of docking a second)."""
        self.viewer.window.add_plugin_dock_widget(PLUGIN, IBSI_DOCK)
