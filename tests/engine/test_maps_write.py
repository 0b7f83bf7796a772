"""How `maps` writes its files: raw NRRD on the ROI's box by default, gzip with --compress,
both aligned with the image and holding ``feature_maps``' values."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from napari_radiomics.cli import main
from napari_radiomics.engine.maps import feature_maps


def _oblique_case(folder: Path) -> tuple[sitk.Image, sitk.Image, Path, Path]:
    """A 3D image (anisotropic spacing, a tilted direction, an origin off zero) and an
    ellipsoid ROI away from its edges, written by SimpleITK as NRRD."""
    shape = (12, 30, 28)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    roi = ((z - 6) / 3.0) ** 2 + ((y - 14) / 6.0) ** 2 + ((x - 12) / 5.0) ** 2 <= 1
    values = np.random.default_rng(3).normal(100, 30, shape) + 40 * roi
    image, mask = (
        sitk.GetImageFromArray(values.astype(np.int16)),
        sitk.GetImageFromArray(roi.astype(np.uint8)),
    )
    angle = np.deg2rad(15)
    direction = (1, 0, 0, 0, np.cos(angle), -np.sin(angle), 0, np.sin(angle), np.cos(angle))
    for each in (image, mask):
        each.SetSpacing((0.8, 0.7, 2.5))
        each.SetOrigin((-30.0, 12.0, 4.0))
        each.SetDirection(direction)
    paths = folder / "scan.nrrd", folder / "scan_label.nrrd"
    sitk.WriteImage(image, str(paths[0]), True)
    sitk.WriteImage(mask, str(paths[1]), True)
    return image, mask, *paths


def _encoding(path: Path) -> str:
    """The ``encoding`` field of an NRRD file's header (which ends at the first blank line)."""
    header = path.read_bytes().split(b"\n\n", 1)[0].decode("latin-1")
    found = re.search(r"^encoding: *(\w+)$", header, re.MULTILINE)
    assert found is not None, header
    return found.group(1)


def test_box_maps_are_raw_nrrd_by_default_and_gzip_with_compress(tmp_path: Path) -> None:
    """The default box-sized maps are raw NRRD (gzip made them a third smaller for several
    times the CPU per file); ``--compress`` gzips them. Both, read back with SimpleITK, have
    the image's spacing and direction, the origin of the box's first voxel in the image, and
    ``feature_maps``' values bit for bit (NaN off the ROI)."""
    image, mask, image_path, mask_path = _oblique_case(tmp_path)
    features = ["firstorder_Mean", "glcm_Contrast"]
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "--features", *features]
    assert main([*argv, "-o", str(tmp_path / "raw")]) == 0
    assert main([*argv, "-o", str(tmp_path / "gz"), "--compress"]) == 0
    expected = feature_maps(image, mask, features=features)
    assert set(expected) == {"original_firstorder_Mean", "original_glcm_Contrast"}
    for name, feature_map in expected.items():
        corner = tuple(int(i) for i in feature_map.offset[::-1])  # SimpleITK's (x, y, z)
        for folder, encoding in (("raw", "raw"), ("gz", "gzip")):
            path = tmp_path / folder / f"{name}.nrrd"
            assert _encoding(path) == encoding
            written = sitk.ReadImage(str(path))
            assert written.GetSpacing() == image.GetSpacing()
            assert written.GetDirection() == image.GetDirection()
            np.testing.assert_allclose(
                written.GetOrigin(), image.TransformIndexToPhysicalPoint(corner), atol=1e-9
            )
            np.testing.assert_array_equal(sitk.GetArrayViewFromImage(written), feature_map.values)
            assert np.isfinite(feature_map.values).sum() == int(
                np.sum(sitk.GetArrayViewFromImage(mask))
            )
