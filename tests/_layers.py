"""pyradiomics' test cases as the layer-like objects the Qt-free core reads, and a parity check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from napari_radiomics.convert import LayerData, sitk_to_layer_data


def layer_from_file(path: Path, name: str | None = None) -> LayerData:
    """Read a NRRD with SimpleITK and wrap it as napari would show it."""
    data, kwargs = sitk_to_layer_data(sitk.ReadImage(str(path)))
    return LayerData(data=data, name=name or path.stem, **kwargs)


def case_layers(folder: Path, case: str) -> tuple[LayerData, LayerData]:
    """Image and label layers for one of pyradiomics' test cases."""
    return (
        layer_from_file(folder / f"{case}_image.nrrd", case),
        layer_from_file(folder / f"{case}_label.nrrd", f"{case} mask"),
    )


def assert_same_features(
    ours: dict, reference: dict, rel: float = 1e-12, skip: tuple[str, ...] = ()
) -> None:
    """Every feature pyradiomics returned is in ``ours`` with the same value (1e-12 relative),
    and ``ours`` has no feature pyradiomics did not compute. ``skip``: metadata columns."""
    expected = {k: v for k, v in reference.items() if not k.startswith("diagnostics_")}
    got = {
        k: v
        for k, v in ours.items()
        if k != "roi_label" and k not in skip and not k.startswith("diagnostics_")
    }
    assert expected, "pyradiomics computed nothing"
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:10]
    for name, value in expected.items():
        want, have = float(value), float(got[name])
        if np.isnan(want):
            assert np.isnan(have), name
        else:
            assert abs(have - want) <= rel * abs(want), (name, want, have)
