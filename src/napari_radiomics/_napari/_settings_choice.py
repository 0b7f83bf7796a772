"""The "Settings" choice of the docks that run many cases (Batch, Robustness): the Extract
features dock's settings, a preset or a params file, chosen through the core's
``settings_choice.choose_settings`` as the CLI's ``--preset``/``--params`` are, so a bad file
or preset is refused with the CLI's message."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qtpy.QtWidgets import QComboBox, QFileDialog, QFormLayout, QLineEdit, QWidget

from napari_radiomics._napari._controls import docked, with_picker
from napari_radiomics._napari._widget import ExtractionWidget
from napari_radiomics.settings import PRESETS, ExtractionSettings
from napari_radiomics.settings_choice import choose_settings

if TYPE_CHECKING:
    import napari

PARAMS_FILE = "Params file…"
DOCK = "Extract features dock"
#: The preset chosen when a dock opens: the workflow this project started from.
DEFAULT_PRESET = "brain-tumor-mri"


class SettingsChoice:
    """A combo box (the Extract features dock, each preset, a params file) and the params
    file's field; :meth:`resolver` reads them in the GUI thread."""

    def __init__(self, viewer: napari.viewer.Viewer, parent: QWidget) -> None:
        self.viewer = viewer
        self._parent = parent
        self.combo = QComboBox()
        self.combo.addItems([DOCK, *sorted(PRESETS), PARAMS_FILE])
        if DEFAULT_PRESET in PRESETS:
            self.combo.setCurrentText(DEFAULT_PRESET)
        self.params = QLineEdit()
        self.params.setPlaceholderText("pyradiomics params .yaml/.json")

    def add_rows(self, form: QFormLayout) -> None:
        """The two rows of the dock's form: "Settings" and "Params file"."""
        form.addRow("Settings", self.combo)
        form.addRow("Params file", with_picker(self.params, self._pick_params))

    def _pick_params(self) -> str:
        return QFileDialog.getOpenFileName(
            self._parent, "pyradiomics params", "", "*.yaml *.yml *.json"
        )[0]

    def files(self) -> list[str]:
        """The file the chosen settings are read from (the params file, when that is the
        choice): an input, which a run's output must never replace."""
        params = self.params.text().strip()
        return [params] if self.combo.currentText() == PARAMS_FILE and params else []

    def settings(self) -> ExtractionSettings:
        """The chosen settings; ValueError (SettingsError for a preset or a file) naming
        what is wrong."""
        return self.resolver()()

    def resolver(self) -> Callable[[], ExtractionSettings]:
        """What is chosen, read from the widgets now, as a call that resolves it and may run
        in a worker thread: checking a params file or a preset goes through pyradiomics'
        own schema validation, 0.1-0.2 s that blocked the event loop when a run started.
        Raises ValueError at once when nothing can be resolved (no Extract features dock)."""
        choice = self.combo.currentText()
        if choice == PARAMS_FILE:
            params = self.params.text().strip()
            return lambda: choose_settings(params=params)
        if choice != DOCK:
            return lambda: choose_settings(preset=choice)
        dock = next(iter(docked(self.viewer, ExtractionWidget)), None)
        if dock is None:
            raise ValueError(
                "no Extract features dock is open (Plugins > napari-radiomics > Extract "
                "features): open it, or choose a preset or a params file"
            )
        current = dock.settings()
        return lambda: choose_settings(current=current)
