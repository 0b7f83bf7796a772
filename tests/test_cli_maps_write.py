"""`maps --single-file`: every map in one multi-component NRRD file, aligned with the image
and holding the values of the one-file-per-feature maps."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from napari_radiomics.cli import main
from napari_radiomics.cli.maps import PARAMS_NAME, SINGLE_NAME
from napari_radiomics.convert import Grid
from napari_radiomics.engine.maps import map_names
from napari_radiomics.io.medical import MAPS_FEATURES_FIELD
from napari_radiomics.settings import ExtractionSettings


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


def test_single_file_holds_every_map_as_a_named_component_on_the_box(tmp_path: Path) -> None:
    """``--single-file`` writes DIR/maps.nrrd (and the params file) and nothing else: one
    component per map, named in order by the header field, each equal bit for bit to the
    map's own file from a run without the option, with the same spacing, direction and origin
    (the box's first voxel in the image), so a viewer overlays it as it does each map."""
    image, _, image_path, mask_path = _oblique_case(tmp_path)
    features = ["firstorder", "glcm_Contrast", "glrlm_RunEntropy"]
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "--features", *features]
    assert main([*argv, "-o", str(tmp_path / "files")]) == 0
    assert main([*argv, "-o", str(tmp_path / "one"), "--single-file"]) == 0
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        SINGLE_NAME,
        "maps.params.yaml",
    ]
    single = sitk.ReadImage(str(tmp_path / "one" / SINGLE_NAME))
    names = single.GetMetaData(MAPS_FEATURES_FIELD).split()
    files = sorted(p.name.removesuffix(".nrrd") for p in (tmp_path / "files").glob("*.nrrd"))
    assert sorted(names) == files
    assert single.GetNumberOfComponentsPerPixel() == len(names) == 20  # 18 + 2
    assert single.GetSpacing() == image.GetSpacing()
    assert single.GetDirection() == image.GetDirection()
    components = sitk.GetArrayViewFromImage(single)
    for index, name in enumerate(names):
        one = sitk.ReadImage(str(tmp_path / "files" / f"{name}.nrrd"))
        assert single.GetOrigin() == one.GetOrigin()
        np.testing.assert_array_equal(components[..., index], sitk.GetArrayViewFromImage(one))


def test_single_file_is_refused_with_a_full_grid_or_nifti_naming_the_option_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A single file holds box-sized NRRD maps only: with ``--grid full`` (a full-grid map
    per feature is the image's size) or NIfTI (no header field for the names) it is a usage
    error before any work, naming the option given (both when both are)."""
    _, _, image_path, mask_path = _oblique_case(tmp_path)
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "--single-file"]
    drop = "--single-file writes one NRRD file on the ROI's box: drop "
    for extra, named, unnamed in (
        (["--grid", "full"], "--grid full (", "nii.gz"),
        (["--format", "nii.gz"], "--format nii.gz (", "--grid"),
    ):
        assert main([*argv, "-o", str(tmp_path / "out"), *extra]) == 2
        error = capsys.readouterr().err.splitlines()[-1]  # after the usage lines
        assert drop + named in error
        assert unnamed not in error
    both = ["--grid", "full", "--format", "nii.gz"]
    assert main([*argv, "-o", str(tmp_path / "out"), *both]) == 2
    assert drop + "--grid full and --format nii.gz (" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_overwrite_replaces_the_other_layouts_maps_and_nothing_else(tmp_path: Path) -> None:
    """``--overwrite`` leaves one run's maps in DIR: per-feature files, then ``--single-file
    --overwrite``, leaves ``maps.nrrd`` alone (the per-feature files removed), and the
    reverse removes ``maps.nrrd``; a file of the user's in DIR, even an NRRD one, stays."""
    _, _, image_path, mask_path = _oblique_case(tmp_path)
    out = tmp_path / "maps"
    out.mkdir()
    (out / "notes.nrrd").write_bytes(b"not ours")
    (out / "original_glcm_Contrast_edited.nrrd").write_bytes(b"not a map name either")
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "-o", str(out)]
    argv += ["--features", "glcm_Contrast", "firstorder_Mean", "--overwrite"]
    users = ["notes.nrrd", "original_glcm_Contrast_edited.nrrd"]
    per_feature = ["original_firstorder_Mean.nrrd", "original_glcm_Contrast.nrrd"]
    assert main(argv) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*users, *per_feature, PARAMS_NAME])
    assert main([*argv, "--single-file"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*users, SINGLE_NAME, PARAMS_NAME])
    assert main([*argv, "--format", "nii.gz"]) == 0
    per_feature_nifti = [name.replace(".nrrd", ".nii.gz") for name in per_feature]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*users, *per_feature_nifti, PARAMS_NAME]
    )
    assert (out / "notes.nrrd").read_bytes() == b"not ours"


def test_a_maps_file_is_refused_as_the_image_to_map(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``maps.nrrd`` now reads as maps (one per component), not as a vector image refused by
    the reader: given back to ``maps`` as IMAGE it is a usage error naming the file, not a
    traceback from a 4D image."""
    _, _, image_path, mask_path = _oblique_case(tmp_path)
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "--single-file"]
    assert main([*argv, "-o", str(tmp_path / "one"), "--features", "glcm_Contrast"]) == 0
    capsys.readouterr()
    maps_file = tmp_path / "one" / SINGLE_NAME
    again = ["maps", str(maps_file), "--mask", str(mask_path), "-q", "-o", str(tmp_path / "x")]
    assert main(again) == 2
    assert f"{maps_file}: is a maps.nrrd of `maps --single-file` (1 feature" in (
        capsys.readouterr().err
    )


def test_files_maps_did_not_write_are_never_replaced_or_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of the user's own NRRD files named as maps are (pyradiomics' voxel mode
    writes ``original_glcm_Contrast.nrrd``), and no earlier run of ``maps`` in it: without
    ``--overwrite`` a file of the same name is a usage error, not replaced; with it, the
    user's files this run does not write stay (only an earlier run's maps are removed). The
    image or mask given, in DIR under a map's name, is never written over nor removed."""
    _, _, image_path, mask_path = _oblique_case(tmp_path)
    out = tmp_path / "voxel"
    out.mkdir()
    names = ("original_firstorder_Mean.nrrd", "original_glcm_Contrast.nrrd", SINGLE_NAME)
    users = {name: f"pyradiomics' own {name}".encode() for name in names}
    for name, data in users.items():
        (out / name).write_bytes(data)
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "-o", str(out)]
    argv += ["--features", "firstorder_Mean"]
    assert main(argv) == 2
    assert f"{out} already holds original_firstorder_Mean.nrrd" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == users
    del users["original_firstorder_Mean.nrrd"]
    assert main([*argv, "--overwrite"]) == 0
    assert {name: (out / name).read_bytes() for name in users} == users
    # The image itself in DIR under a map's name: refused before it is written or removed.
    scans = tmp_path / "scans"
    scans.mkdir()
    image, mask = scans / SINGLE_NAME, scans / "original_glcm_Contrast.nrrd"
    image.write_bytes(image_path.read_bytes())
    mask.write_bytes(mask_path.read_bytes())
    kept = {p: p.read_bytes() for p in (image, mask)}
    for extra in ([], ["--single-file"], ["--overwrite"], ["--overwrite", "--single-file"]):
        again = ["maps", str(image), "--mask", str(mask), "-q", "-o", str(scans), *extra]
        assert main([*again, "--features", "glcm_Contrast"]) == 2, extra
        assert f"{image}: is a file this run reads" in capsys.readouterr().err
        assert {p: p.read_bytes() for p in (image, mask)} == kept


def test_a_second_run_into_the_folder_of_a_running_one_is_refused(
    pyradiomics_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """While a ``maps`` run computes into DIR, a second one into DIR (even with
    ``--overwrite``, which would replace its maps and remove the others) is a usage error
    naming the first, as ``extract`` does for its output; the first run's maps and params
    file are then its own."""
    import os
    import subprocess
    import sys
    import threading

    out = tmp_path / "maps"
    image, mask = pyradiomics_data / "brain1_image.nrrd", pyradiomics_data / "brain1_label.nrrd"
    argv = ["maps", str(image), "--mask", str(mask), "-o", str(out), "--region", "box"]
    argv += ["--margin", "2", "--set", "voxelSetting.kernelRadius=2"]
    src = str(Path(__import__("napari_radiomics").__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    first = subprocess.Popen(
        [sys.executable, "-m", "napari_radiomics.cli", *argv, "--features", "glcm_Contrast"],
        stderr=subprocess.PIPE,
        env=env,
    )
    assert first.stderr is not None
    shown = b""
    while b"%" not in shown:  # its progress: the maps are being computed
        chunk = os.read(first.stderr.fileno(), 4096)
        assert chunk, shown
        shown += chunk
    drain = threading.Thread(target=first.stderr.read, daemon=True)  # its pipe never fills
    drain.start()
    second = main([*argv, "--features", "firstorder_Mean", "--overwrite", "-q"])
    error = capsys.readouterr().err
    assert first.wait(timeout=300) == 0
    assert second == 2, error
    assert "another run is writing" in error
    assert sorted(p.name for p in out.iterdir()) == [
        "maps.params.yaml",
        "original_glcm_Contrast.nrrd",
    ]


def test_a_file_given_is_never_written_removed_or_locked_under_another_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The image, mask or params file given, reached in DIR under another name (a hard link:
    one file, two names, as ``Cases.csv`` and ``cases.csv`` are one where case is ignored), is
    a usage error naming it before DIR's lock is taken (the lock file is emptied: a hard link
    to the image as ``maps.lock`` lost the image) or a map or the params file replaces it,
    with or without ``--overwrite``; every file is left byte for byte."""
    _, _, image_path, mask_path = _oblique_case(tmp_path)
    params = tmp_path / "voxel.params.yaml"
    params.write_text("featureClass:\n  firstorder: [Mean]\n", encoding="utf-8")
    argv = ["maps", str(image_path), "--mask", str(mask_path), "-q", "--params", str(params)]
    for source, name in (
        (image_path, "maps.lock"),
        (mask_path, "original_firstorder_Mean.nrrd"),
        (params, PARAMS_NAME),
    ):
        out = tmp_path / f"out-{name}"
        out.mkdir()
        os.link(source, out / name)
        kept = {p: p.read_bytes() for p in (image_path, mask_path, params)}
        # (without --overwrite, a params file in DIR is refused as an earlier run's maps)
        for extra in ([], ["--overwrite"]) if name != PARAMS_NAME else (["--overwrite"],):
            assert main([*argv, "-o", str(out), *extra]) == 2, (name, extra)
            error = capsys.readouterr().err
            assert f"{source}: is a file this run reads" in error, error
            assert f"as {name}; choose another output folder" in error
            assert {p: p.read_bytes() for p in kept} == kept
            assert [p.name for p in out.iterdir()] == [name]


def test_a_taken_name_is_refused_before_any_map_is_computed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The maps' names follow from the settings (image types with their own settings, the
    classes and features) and the image's grid: the files a run writes are exactly the names
    worked out before it (``map_names``), and a name already in DIR (here one wavelet map of
    an earlier run whose params file is gone) is refused without ``--overwrite`` before any
    map is computed (no progress shown), not minutes later; nothing in DIR changes."""
    image, _, image_path, mask_path = _oblique_case(tmp_path)
    params = tmp_path / "custom.params.yaml"
    params.write_text(
        "imageType:\n  Original: {}\n  LoG: {sigma: [1.0, 2.0]}\n  Wavelet: {level: 1}\n"
        "featureClass:\n  firstorder: [Mean]\n  glcm: [Contrast]\n",
        encoding="utf-8",
    )
    features = ["firstorder_Mean", "glcm"]
    out = tmp_path / "maps"
    argv = ["maps", str(image_path), "--mask", str(mask_path), "--params", str(params)]
    argv += ["-o", str(out), "--features", *features]
    assert main([*argv, "-q"]) == 0
    predicted = map_names(Grid.of_image(image), ExtractionSettings.load(params), features)
    assert len(predicted) == 22  # (original, 2 LoG, 8 wavelet images) x 2 features
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*(f"{name}.nrrd" for name in predicted), PARAMS_NAME]
    )
    kept = "wavelet-HLH_glcm_Contrast.nrrd"
    for path in out.iterdir():
        if path.name != kept:
            path.unlink()
    data = (out / kept).read_bytes()
    capsys.readouterr()
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"{out} already holds {kept}, which this run would write" in error
    assert "%" not in error  # no map computed: no progress shown
    assert [p.name for p in out.iterdir()] == [kept]
    assert (out / kept).read_bytes() == data
