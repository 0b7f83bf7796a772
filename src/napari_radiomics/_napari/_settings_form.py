"""The Extract dock's settings form, built from ``ExtractionSettings``' own fields.

Each field of the settings dataclass gets a control chosen by its type and by pyradiomics'
schema rule for its setting, the way magicgui builds a form from a dataclass
(``magicgui.schema``), so a setting added to the dataclass appears here with no widget code:

- ``bool``: a check box; ``int``: a spin box in the schema's range; ``str`` with the schema's
  ``enum``: a combo box;
- a mapping whose field metadata names its ``choices`` (image types, feature classes): one
  check box per choice; what each checked name maps to comes from the settings being edited;
- anything else (floats, optional numbers, lists): a :class:`TextValue` read as that type
  (``1, 1, 2``; empty for ``None``), so no digit or range is lost to a spin box.

Fields without such a control (the free-form ``extra_settings`` and ``voxel_settings``) and
fields not compared (``given_keys``) travel unchanged from the settings last shown. The first
fields (:data:`MAIN`) are always visible; the rest sit in a section opened on demand.

The ``nyul`` preprocessing step needs landmarks learned beforehand (``napari-radiomics
landmarks``), which the settings hold as numbers: while ``nyul`` is ticked, a file field beside
the steps names the landmarks file, read into the settings each time they are read (as
``--nyul-landmarks`` does), so a missing or damaged file is named wherever the settings are.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from typing import Any

from magicgui.widgets import CheckBox, Container, FileEdit, LineEdit, Widget, create_widget
from qtpy.QtWidgets import QCheckBox, QWidget

from napari_radiomics._napari._workspace import ChoiceGrid
from napari_radiomics.errors import SettingsError
from napari_radiomics.settings import ExtractionSettings, setting_rule
from napari_radiomics.settings_choice import choose_settings

#: The fields shown first, in this order; every other field goes to "more settings".
MAIN = (
    "bin_width",
    "bin_count",
    "resampled_pixel_spacing",
    "normalize",
    "preprocess",
    "force_2d",
    "image_types",
    "feature_classes",
)
#: Settings of one image type shown beside its box: (image type, setting) -> (label, value
#: until one is given). The control's type comes from pyradiomics' schema for the setting.
TYPE_OPTIONS: dict[tuple[str, str], tuple[str, Any]] = {
    ("LoG", "sigma"): ("LoG sigmas (mm)", [1.0, 3.0]),
}
_INT_LIMIT = 2**31 - 1  # a Qt spin box holds a 32-bit int
_PYTHON_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


def _number_text(value: Any) -> str:
    """A number as short as it reads back exactly (``2`` for 2.0, every digit of 0.1234567)."""
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return text if type(value)(text) == value else repr(value)


class TextValue(LineEdit):
    """A value of ``kind`` (``float``, ``int | None``, ``list[float] | None``, ...) typed as
    text: list items separated by commas or spaces, nothing for ``None``. ``value`` is the
    parsed value and raises a :class:`SettingsError` naming the field for text that is not
    one; the ``changed`` signal carries the text, so typing never raises."""

    def __init__(self, kind: Any, **kwargs: Any) -> None:
        union = typing.get_origin(kind) in (typing.Union, types.UnionType)
        args = typing.get_args(kind) if union else (kind,)
        self._optional = type(None) in args
        kinds = [a for a in args if a is not type(None)]
        self._list = typing.get_origin(kinds[0]) is list
        self._kinds = typing.get_args(kinds[0]) if self._list else tuple(kinds)
        super().__init__(**kwargs)

    def get_value(self) -> Any:
        """The text read as the field's type."""
        text = str(super().get_value()).strip()
        if not text and (self._optional or self._list):
            return None if self._optional else []
        tokens = text.replace(",", " ").split() if self._list else [text]
        try:
            items = [self._item(token) for token in tokens]
        except ValueError:
            wanted = "numbers separated by commas" if self._list else "a number"
            raise SettingsError(f"{self.label}: expected {wanted}, got {text!r}") from None
        return items if self._list else items[0]

    def set_value(self, value: Any) -> None:
        """Show ``value`` (text is shown as it is)."""
        if isinstance(value, str):
            text = value
        elif value is None:
            text = ""
        elif isinstance(value, list | tuple):
            text = ", ".join(_number_text(item) for item in value)
        else:
            text = _number_text(value)
        super().set_value(text)

    def _item(self, token: str) -> Any:
        """``token`` as the first of the kinds that reads it (``int`` before ``str``)."""
        for kind in sorted(self._kinds, key=lambda k: k is str):
            try:
                return kind(token)
            except ValueError:
                continue
        raise ValueError(token)


class ChoiceBox:
    """One choice's check box: a plain Qt one, read and set as ``value`` like magicgui's."""

    def __init__(self, name: str, parent: QWidget) -> None:
        self.name = name
        self.native = QCheckBox(name, parent)

    @property
    def value(self) -> bool:
        """Whether the choice is checked."""
        return self.native.isChecked()

    @value.setter
    def value(self, checked: bool) -> None:
        self.native.setChecked(bool(checked))


class Choices(Container):
    """One check box per choice, four to a row, under a title; ``value`` is the list of
    checked names, ``empty`` what a newly checked name maps to.

    The boxes and the title are plain Qt widgets in one grid: a magicgui widget each (a box,
    a row, the title: 31 of the Extract dock's 91) cost the time docking the dock blocked the
    viewer for, and magicgui adds nothing a grid of check boxes needs. A box's toggle is the
    group's ``changed``, as a magicgui child's change would be."""

    def __init__(self, choices: list[str], empty: type, *, name: str, label: str) -> None:
        super().__init__(widgets=[], labels=False, name=name, label=label)
        self.grid = ChoiceGrid(label)
        self.boxes = {choice: ChoiceBox(choice, self.grid) for choice in choices}
        for box in self.boxes.values():
            box.native.toggled.connect(self._toggled)
        self.grid.place([box.native for box in self.boxes.values()])
        self.native.layout().addWidget(self.grid)
        self.empty = empty

    def _toggled(self, _checked: bool) -> None:
        self.changed.emit(self)

    @property
    def value(self) -> list[str]:
        """The checked names."""
        return [name for name, box in self.boxes.items() if box.value]

    @value.setter
    def value(self, names: list[str]) -> None:
        for name, box in self.boxes.items():
            box.value = name in names


def shown_fields(kind: type[ExtractionSettings]) -> list[dataclasses.Field]:
    """The fields of ``kind`` the form has a control for: compared fields, mappings only when
    their metadata names the choices of their keys."""
    hints = typing.get_type_hints(kind)
    return [
        f
        for f in dataclasses.fields(kind)
        if f.compare and (typing.get_origin(hints[f.name]) is not dict or "choices" in f.metadata)
    ]


def field_widget(f: dataclasses.Field, kind: Any) -> Widget:
    """The control of one field, from its type and pyradiomics' schema rule."""
    label = f.name.replace("_", " ")
    found = setting_rule(f.name)
    key, rule = found if found is not None else (f.name, {})
    tooltip = f"pyradiomics setting {key}" if found is not None else None
    if "choices" in f.metadata:
        empty = typing.get_origin(typing.get_args(kind)[1]) or typing.get_args(kind)[1]
        return Choices(list(f.metadata["choices"]()), empty, name=f.name, label=label)
    if kind is bool:
        return CheckBox(text=label, name=f.name, tooltip=tooltip)
    if kind is str and "enum" in rule:
        options = {"choices": rule["enum"], "tooltip": tooltip}
        return create_widget(annotation=str, name=f.name, label=label, options=options)
    if kind is int:
        bounds = rule.get("range", {})
        low = bounds.get("min", bounds.get("min-ex", -_INT_LIMIT - 1) + 1)
        high = bounds.get("max", bounds.get("max-ex", _INT_LIMIT + 1) - 1)
        options = {"min": low, "max": high, "tooltip": tooltip}
        return create_widget(annotation=int, name=f.name, label=label, options=options)
    return TextValue(kind, name=f.name, label=label, tooltip=tooltip)


def option_widget(image_type: str, key: str, label: str, value: Any) -> TextValue:
    """The control of one image type's setting, typed from pyradiomics' schema rule."""
    found = setting_rule(key)
    rule = found[1] if found is not None else {}
    item = _PYTHON_TYPES.get((rule.get("seq") or [rule])[0].get("type"), str)
    kind = list[item] if "seq" in rule else item  # type: ignore[valid-type]
    tooltip = f"pyradiomics setting {key} of image type {image_type}"
    name = f"{image_type}_{key}"
    return TextValue(kind, value=value, name=name, label=label, tooltip=tooltip)


def _sections(widgets: list[Widget]) -> list[Container]:
    """Runs of plain fields in labelled containers (labels in a column); each group of check
    boxes on its own, as wide as the form."""
    sections: list[Container] = []
    for widget in widgets:
        if isinstance(widget, Choices):
            sections.append(widget)
        elif sections and not isinstance(sections[-1], Choices):
            sections[-1].append(widget)
        else:
            sections.append(Container(widgets=[widget]))
    return sections


class SettingsForm(Container):
    """The controls of an ``ExtractionSettings`` (or of a subclass: ``type(settings)``).

    ``show(settings)`` puts settings in the controls; ``settings()`` reads them back on top of
    the settings last shown, so what has no control travels unchanged. ``changed`` fires on
    each edit, never while settings are being shown."""

    def __init__(self, settings: ExtractionSettings) -> None:
        self._hints = typing.get_type_hints(type(settings))
        controlled = shown_fields(type(settings))
        fields = {
            f.name: field_widget(f, self._hints[f.name]) for f in controlled if f.name in MAIN
        }
        #: the fields of "more settings", built when it is first opened (or read)
        self._later = [f for f in controlled if f.name not in MAIN]
        self._order = [f.name for f in controlled]  # the fields' order, the dataclass's
        options = {pair: option_widget(*pair, *shown) for pair, shown in TYPE_OPTIONS.items()}
        main = [fields[name] for name in MAIN if name in fields]
        landmarks = FileEdit(
            mode="r", filter="*.json", name="nyul_landmarks", label="Nyul landmarks",
            tooltip="the landmarks file of the nyul step (napari-radiomics landmarks writes "
            "it); empty: the landmarks the settings already hold",
        )  # fmt: skip
        if "preprocess" in fields:  # the file goes beside the steps' boxes
            main.insert(main.index(fields["preprocess"]) + 1, landmarks)
        if "image_types" in fields:  # an image type's settings follow its box
            at = main.index(fields["image_types"]) + 1
            main[at:at] = options.values()
        more = Container(widgets=[])
        more.visible = False
        toggle = CheckBox(text="more settings")
        toggle.changed.connect(self._show_more)
        super().__init__(widgets=[*_sections(main), toggle, more], labels=False)
        self._fields, self.type_options = fields, options
        self.more, self.more_toggle = more, toggle
        self.nyul_landmarks = landmarks
        fields["image_types"].changed.connect(self._enable_options)
        if "preprocess" in fields:
            fields["preprocess"].changed.connect(self._show_landmarks)
        self.show(settings)

    @property
    def fields(self) -> dict[str, Widget]:
        """Every field's control, by field name (builds "more settings" if not yet built)."""
        self._build_more()
        return self._fields

    def _show_more(self, on: bool) -> None:
        if on:
            self._build_more()
        self.more.visible = on

    def _build_more(self) -> None:
        """The controls of the rarely changed settings, showing the settings last shown.

        Built on demand: with them, building the form cost about twice as much, and docking
        the Extract dock blocked the event loop for that long, for a section that starts
        closed. Until built, :meth:`settings` keeps their values from the settings shown."""
        if not self._later:
            return
        widgets = {f.name: field_widget(f, self._hints[f.name]) for f in self._later}
        with self.changed.blocked():
            self._put(widgets, self._shown, self._run_of(self._shown))
        # Only once they hold the settings shown: a failure above leaves them unbuilt, to be
        # built again, never in the form but unread by settings().
        self.more.extend(_sections(list(widgets.values())))
        built = self._fields | widgets
        self._fields, self._later = {name: built[name] for name in self._order}, []

    def show(self, settings: ExtractionSettings) -> None:
        """Put ``settings`` in the controls, as pyradiomics will run them (an empty section
        means the original image / every feature class)."""
        self._shown = settings.copy()
        run = self._run_of(settings)
        with self.changed.blocked():
            self._put(self._fields, settings, run)
            for (image_type, key), widget in self.type_options.items():
                given = (settings.image_types.get(image_type) or {}).get(key)
                given = given if given is not None else settings.extra_settings.get(key)
                if given is not None:
                    widget.value = given
            self.nyul_landmarks.line_edit.value = ""  # the settings' own landmarks, if any
            self._enable_options()
            self._show_landmarks()

    @staticmethod
    def _run_of(settings: ExtractionSettings) -> ExtractionSettings:
        """``settings`` as pyradiomics will run them (validated; an empty section filled)."""
        return type(settings).from_params(settings.to_params())

    @staticmethod
    def _put(
        fields: dict[str, Widget], settings: ExtractionSettings, run: ExtractionSettings
    ) -> None:
        """Each field's value of ``settings`` in its control (an empty section as ``run``)."""
        for name, widget in fields.items():
            value = getattr(settings, name)
            if isinstance(widget, Choices):
                value = list(value or getattr(run, name))
            widget.value = value

    def settings(self) -> ExtractionSettings:
        """The settings the controls describe; raises SettingsError naming a bad value."""
        base = self._shown
        settings = base.copy()
        for name, widget in self._fields.items():  # an unbuilt control changed nothing
            value, old = widget.value, getattr(base, name)
            if isinstance(widget, Choices):  # checked names keep what they map to
                value = {k: copy.deepcopy(old[k]) if k in old else widget.empty() for k in value}
            if value != old:  # an equal value keeps its type (25, not 25.0)
                setattr(settings, name, value)
        for (image_type, key), widget in self.type_options.items():
            if image_type not in settings.image_types:
                continue
            given = (base.image_types.get(image_type) or {}).get(key)
            if widget.value != (given if given is not None else base.extra_settings.get(key)):
                settings.image_types[image_type][key] = widget.value
        path = str(self.nyul_landmarks.line_edit.value).strip()
        if path and "nyul" in settings.preprocess:  # ReadError naming a missing/damaged file
            settings = choose_settings(current=settings, nyul_landmarks=path)
        settings.to_params()  # validated now, so an error names the control's value
        return settings

    def _show_landmarks(self, *_: Any) -> None:
        """The landmarks file field, shown while the nyul step is ticked."""
        preprocess = self._fields.get("preprocess")  # a main field: "more" stays unbuilt
        self.nyul_landmarks.visible = preprocess is not None and "nyul" in preprocess.value

    def _enable_options(self, *_: Any) -> None:
        checked = self._fields["image_types"].value
        for (image_type, _key), widget in self.type_options.items():
            widget.enabled = image_type in checked
