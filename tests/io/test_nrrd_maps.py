"""Maps written as gzip NRRD without an image writer: ITK's header byte for byte and the
pixels SimpleITK reads back (a file the disk cut off: ``test_medical``'s cut-off writes)."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.io.medical import MAPS_FEATURES_FIELD
from napari_radiomics.io.nrrd_maps import nrrd_bytes, write_nrrd

_TILT = np.deg2rad(10)
#: (values, spacing, origin, direction, components): a tilted 3D box of float64 with NaN, a
#: flipped 3D grid of 2 components with -0 and a tiny origin, a 2D grid of components with a
#: swapped direction and 1/3 in its origin, one component (ITK writes it as a scalar image),
#: a 2D float32 map.
_IDENTITY = (1, 0, 0, 0, 1, 0, 0, 0, 1)
_VALUES = np.linspace(-3, 3, 60).reshape(5, 4, 3)
_VALUES[_VALUES > 2.5] = np.nan
CASES = [
    (
        _VALUES,
        (0.7, 0.7, 2.5),
        (-180.0, -200.0, -60.0),
        (1.0, 0, 0, 0, np.cos(_TILT), -np.sin(_TILT), 0, np.sin(_TILT), np.cos(_TILT)),
        False,
    ),
    (
        np.arange(120.0).reshape(5, 4, 3, 2),
        (0.7, 0.8, 2.5),
        (-0.0, 0.1, 1e-20),
        (-1, 0, 0, 0, -1, 0, 0, 0, 1),
        True,
    ),
    (np.arange(24.0).reshape(4, 3, 2), (0.5, 0.25), (1 / 3, -0.0), (0, 1, 1, 0), True),
    (np.arange(12.0).reshape(2, 2, 3, 1), (0.5, 0.25, 2.0), (1.0, 2.0, 3.0), _IDENTITY, True),
    (np.arange(12, dtype="f4").reshape(4, 3), (0.5, 0.25), (1 / 3, 2.0), (1, 0, 0, 1), False),
]


def _itk_image(values: np.ndarray, spacing, origin, direction, components: bool) -> sitk.Image:
    image = sitk.GetImageFromArray(values, isVector=components)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    image.SetDirection(direction)
    return image


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_file_is_itks_header_byte_for_byte_and_reads_back_on_the_same_grid(
    tmp_path: Path, case: int
) -> None:
    """The header is the one SimpleITK's own writer makes for the same image (a named-maps
    field included), so every reader that opens ITK's file places ours the same; the pixels
    decompress to ITK's and SimpleITK reads the file back with the image's values, spacing,
    origin and direction."""
    values, spacing, origin, direction, components = CASES[case]
    image = _itk_image(values, spacing, origin, direction, components)
    fields = None
    if components:
        fields = {MAPS_FEATURES_FIELD: " ".join(f"map{i}" for i in range(values.shape[-1]))}
        image.SetMetaData(MAPS_FEATURES_FIELD, fields[MAPS_FEATURES_FIELD])
    sitk.WriteImage(image, str(tmp_path / "itk.nrrd"), True)
    itk = (tmp_path / "itk.nrrd").read_bytes()
    ours = nrrd_bytes(values, spacing, origin, direction, components=components, fields=fields)
    end = ours.index(b"\n\n") + 2
    assert ours[:end] == itk[: itk.index(b"\n\n") + 2]
    assert zlib.decompress(ours[end:], wbits=31) == np.ascontiguousarray(values).tobytes()
    write_nrrd(tmp_path / "ours.nrrd", ours)
    back = sitk.ReadImage(str(tmp_path / "ours.nrrd"))
    reference = sitk.ReadImage(str(tmp_path / "itk.nrrd"))
    for get in ("GetSpacing", "GetOrigin", "GetDirection", "GetNumberOfComponentsPerPixel"):
        assert getattr(back, get)() == getattr(reference, get)(), get
    np.testing.assert_array_equal(
        sitk.GetArrayViewFromImage(back), sitk.GetArrayViewFromImage(reference)
    )
    if fields:
        assert back.GetMetaData(MAPS_FEATURES_FIELD) == fields[MAPS_FEATURES_FIELD]


def test_what_is_not_a_map_is_refused_naming_it() -> None:
    """Integer pixels, values that do not fit the grid and a field that would break the header
    are errors naming the problem, not a file a reader misreads."""
    grid = ((1.0, 1.0), (0.0, 0.0), (1.0, 0.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="float32 or float64, not int16"):
        nrrd_bytes(np.zeros((2, 2), np.int16), *grid)
    with pytest.raises(ValueError, match=r"\(2, 2, 2\) values on a 2D grid"):
        nrrd_bytes(np.zeros((2, 2, 2)), *grid)
    with pytest.raises(ValueError, match="no line break"):
        nrrd_bytes(np.zeros((2, 2)), *grid, fields={"names": "a\nb"})
