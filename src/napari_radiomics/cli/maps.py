"""`napari-radiomics maps`: voxel-wise feature maps of one image and mask, one file per feature.

A thin layer over ``engine.maps.feature_maps``, so the files hold the numbers the napari dock
shows. Every map is written on the block of voxels it was computed on (the ROI's bounding box
plus the kernel radius, as pyradiomics' voxel mode returns it), placed on the image's grid, or
with ``--grid full`` on the image's whole grid; the params file next to them runs in
pyradiomics' own voxel mode unchanged. What the output folder is checked for, its lock and
the names of its files: ``cli._maps_output``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics._atomic import replaced
from napari_radiomics._filenames import inside
from napari_radiomics._limits import usable_cpus
from napari_radiomics.cli._maps_output import (
    FORMATS,
    PARAMS_NAME,
    SINGLE_NAME,
    file_names,
    lock_folder,
    refuse_folder,
    refuse_inputs_in_the_way,
    refuse_taken,
    remove_earlier_maps,
)
from napari_radiomics.cli._options import (
    add_settings_options,
    add_subcommand,
    non_negative,
    positive,
    settings_from,
    worker_count,
)
from napari_radiomics.cli._status import (
    EXIT_FAILED_CASES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from napari_radiomics.errors import (
    ExtractionError,
    ReadError,
    SettingsError,
    WriteError,
)
from napari_radiomics.io import write_medical_image
from napari_radiomics.io.medical import (
    MAPS_FEATURES_FIELD,
    maps_file_refused,
    read_medical_sitk,
)
from napari_radiomics.io.nrrd_maps import nrrd_bytes, write_nrrd

#: Files written at once (threads): one per usable core, up to four. A small map's file costs a few
#: milliseconds of compression, writing, renaming and reading back, each without the GIL.
WRITERS = min(4, usable_cpus())
#: gzip's fastest level for NIfTI maps (SimpleITK's zlib): on maps (float64 noise around the
#: ROI, NaN elsewhere) it took 10-25% less CPU than the default level 6 for files about 15%
#: larger (bench_maps --command). NRRD maps: ``io.nrrd_maps``' own level.
COMPRESSION_LEVEL = 1

_HELP = """\
Voxel-wise feature maps: every ROI voxel gets pyradiomics' features of the kernel around it
(pyradiomics' voxel mode, execute(voxelBased=True), with its voxelSetting: kernelRadius,
maskedKernel, voxelBatch), many times faster and in bounded memory.

IMAGE is an NRRD / NIfTI / MHA image (with --mask) or a brain-tumour .mat slice (its own mask).
Written to DIR:
  <feature>.nrrd       one map per feature (original_glcm_Contrast.nrrd, ...): the ROI's
                       bounding box plus the kernel radius, with the image's spacing and
                       direction and the origin that puts each voxel where it is in the image
                       (--grid full: the image's whole grid); NaN outside the ROI (NIfTI: see
                       docs/formats.md)
  maps.nrrd            with --single-file, instead: every map as one component of one
                       file, on the same box, named in order by its header field
                       napari_radiomics_features
  maps.params.yaml     the pyradiomics parameters used (valid for pyradiomics itself)

Exit status: 0 ok; 2 usage error (bad option, unreadable input, invalid setting, DIR a file
or already holding maps, DIR in use by another maps run, a file read that DIR holds under
a name this run writes, removes or locks (by any name: a hard link), a map name already
taken: all before any map is computed; a map that cannot be written); 3 the ROI cannot be
computed (refused grey levels, more memory than the limit, or pyradiomics' reason); 130
interrupted.
"""

_EXAMPLES = """\
examples:
  napari-radiomics maps scan.nrrd --mask seg.nrrd -o maps/
  napari-radiomics maps scan.nrrd --mask seg.nrrd -o maps/ --set voxelSetting.kernelRadius=2 \\
      --features glcm firstorder_Mean --format nii.gz --jobs 2
  napari-radiomics maps 17.mat -o maps17/ --preset brain-tumor-mri --region box --margin 3
"""


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """The `maps` subcommand's options."""
    maps = add_subcommand(
        commands,
        "maps",
        help="voxel-wise feature maps of one image and mask, one file per feature",
        description=_HELP,
        epilog=_EXAMPLES,
    )
    maps.add_argument("image", metavar="IMAGE", help="NRRD/NIfTI/MHA image or a .mat slice")
    maps.add_argument("--mask", metavar="MASK", help="label image (not for .mat slices)")
    maps.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    add_settings_options(maps)
    what = maps.add_argument_group("maps")
    what.add_argument(
        "--features", nargs="+", metavar="NAME",
        help="feature classes (glcm) or features (glcm_Contrast); default: every non-shape "
        "feature the settings enable, as pyradiomics does",
    )  # fmt: skip
    what.add_argument("--label", type=positive, help="ROI label (default: the mask's only one)")
    what.add_argument(
        "--region", choices=("roi", "box"), default="roi",
        help="voxels to map: the ROI, or its bounding box grown by --margin voxels",
    )  # fmt: skip
    what.add_argument(
        "--margin", type=non_negative, default=0, metavar="N", help="box margin (voxels)"
    )
    what.add_argument("--format", choices=sorted(FORMATS), default="nrrd", help="file format")
    what.add_argument(
        "--grid", choices=("box", "full"), default="box",
        help="extent of each file: the ROI's bounding box plus the kernel radius, placed on the "
        "image (default; what pyradiomics writes), or the image's whole grid (as large as the "
        "image, many times slower to write)",
    )  # fmt: skip
    what.add_argument(
        "--single-file", action="store_true",
        help=f"every map in one multi-component NRRD file, DIR/{SINGLE_NAME}, its components "
        f"named in order by the header field {MAPS_FEATURES_FIELD} (box grid only; one file "
        "instead of one per feature, several times faster to write)",
    )  # fmt: skip
    what.add_argument(
        "-j", "--jobs", type=worker_count, default=1, metavar="N",
        help="worker processes sharing the voxel batches (default 1); the maps are identical "
        "for any N",
    )  # fmt: skip
    what.add_argument(
        "--overwrite", action="store_true",
        help="replace the maps in DIR; an earlier run's maps this run does not write (the other "
        "layout's, other features or format) are removed, nothing else",
    )  # fmt: skip
    what.add_argument("-q", "--quiet", action="store_true", help="no progress")
    return maps


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Compute and write the maps; returns the exit status."""
    out = Path(args.output)
    refuse_folder(parser, args, out)
    if args.single_file:
        _refuse_other_layouts(parser, args)
    with contextlib.ExitStack() as held:  # the folder's lock, released however the run ends
        return _run_holding(parser, args, out, held)


def _run_holding(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    out: Path,
    held: contextlib.ExitStack,
) -> int:
    """:func:`run` from reading the inputs on; ``out`` is locked once they are read (``held``
    releases it). What the run will write is known from the settings and the image's grid
    before the maps are computed: a file given in its way, or a name taken, is refused then."""
    from napari_radiomics.convert import Grid
    from napari_radiomics.engine.maps import feature_maps, map_features, map_names

    try:
        settings = settings_from(args)
        image, mask = _read_inputs(parser, args)
        names = map_names(Grid.of_image(image), settings, args.features)
        written = file_names(args, names)
        refuse_inputs_in_the_way(parser, args, out, written)
        earlier_run = lock_folder(parser, args, out, held)
        refuse_taken(parser, args, out, written)
        maps = feature_maps(
            image,
            mask,
            settings,
            features=args.features,
            progress=None if args.quiet else _progress,
            label=args.label,
            region=args.region,
            margin=args.margin,
            jobs=args.jobs,
        )
    except (SettingsError, ReadError) as err:
        parser.error(str(err))
    except ExtractionError as err:
        print(f"napari-radiomics maps: {args.image}: {err}", file=sys.stderr)
        return EXIT_FAILED_CASES
    except KeyboardInterrupt:
        print("\ninterrupted: no maps written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not args.quiet:
        print(file=sys.stderr)
    computed = file_names(args, list(maps))  # those predicted (a backstop: the tests say so)
    refuse_taken(parser, args, out, computed - written)
    try:
        if args.single_file:
            _write_single(out, maps)
        else:
            _write(out, maps, FORMATS[args.format], box=args.grid == "box")
        # The params file names the classes and features mapped, so pyradiomics computes these.
        mapped = map_features(settings, args.features)
        settings.feature_classes = {name: list(only or []) for name, only in mapped.items()}
        settings.save(out / PARAMS_NAME)
        if args.overwrite and earlier_run:  # files of the user's own are not an earlier run
            remove_earlier_maps(out, computed)
    except (OSError, WriteError) as err:  # no permission, a full disk
        print(f"napari-radiomics maps: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if not args.quiet:
        print(f"{len(maps)} maps written to {out}", file=sys.stderr)
    return EXIT_OK


def _refuse_other_layouts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--single-file`` is one NRRD file on the ROI's box: a usage error naming the option
    given against it (``--grid full``, ``--format nii.gz``, or both)."""
    given = [
        (option, reason)
        for option, reason, conflict in (
            ("--grid full", "a full-grid map per feature is the image's size", args.grid != "box"),
            (
                "--format nii.gz",
                "NIfTI has no header field to name the components",
                args.format != "nrrd",
            ),
        )
        if conflict
    ]
    if given:
        parser.error(
            "--single-file writes one NRRD file on the ROI's box: drop "
            + " and ".join(option for option, _ in given)
            + f" ({'; '.join(reason for _, reason in given)})"
        )


def _read_inputs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[Any, Any]:
    """The image and mask as SimpleITK images (a .mat slice carries its own mask)."""
    from napari_radiomics.io import classify_path, read_medical_image

    path = Path(args.image)
    try:
        kind = classify_path(path, ("mat", "medical"), role="a maps input").kind
    except ReadError as exc:
        parser.error(str(exc))
    if kind == "mat":
        if args.mask:
            parser.error(f"{path}: a .mat slice holds its own mask; drop --mask")
        from napari_radiomics.io import read_tumor_mat  # h5py, only for a .mat slice

        tumor = read_tumor_mat(path)
        return sitk.GetImageFromArray(tumor.image), sitk.GetImageFromArray(
            tumor.mask.astype(np.uint8)
        )
    if not args.mask:
        parser.error(f"{path}: --mask MASK is required for an NRRD/NIfTI/MHA image")
    # Read once each, with a clear ReadError naming the file, and the geometry as stored; the
    # mask in a thread while the image is read (SimpleITK inflates each without the GIL). The
    # image goes to the engine as read; the mask through the reader's label checks.
    with ThreadPoolExecutor(1) as pool:
        mask = pool.submit(read_medical_image, args.mask)
        image = read_medical_sitk(path)
        return image, _mask(mask.result())


def _mask(medical: Any) -> sitk.Image:
    """A mask read by ``read_medical_image`` as a SimpleITK image of its label values, with
    the file's own spacing, origin and direction (as stored, not derived back from napari's
    affine). A maps file of this command (several maps per voxel) is refused."""
    if medical.channels:
        raise maps_file_refused(medical.path, len(medical.channels))
    image = sitk.GetImageFromArray(medical.data)
    image.SetSpacing(medical.geometry["spacing"])
    image.SetOrigin(medical.geometry["origin"])
    image.SetDirection(medical.geometry["direction"])
    return image


def _write(out: Path, maps: dict[str, Any], suffix: str, *, box: bool) -> None:
    """Each map to ``out``, under its feature name kept inside ``out`` (``inside``), on its
    block (``box``) or the full grid; each file written to a temporary file in the same folder,
    then renamed: a killed run leaves no half-written map.

    The files are written :data:`WRITERS` at a time from threads (ISA-L and SimpleITK compress
    and write without the GIL), each checked whole: an NRRD by its bytes read back
    (``io.nrrd_maps``), a NIfTI file by ``write_medical_image``, which reads it back. The first
    error to happen (a full disk), whichever map it is, or Ctrl-C cancels the maps not yet
    begun; it is raised, naming the file, once the files under way have ended. Maps already
    written stay, and nothing else in ``out`` is touched. Full-grid files are written one at
    a time: each holds the image's size twice while it is written (the array and its
    compressed or SimpleITK copy), which several at once would multiply.
    """
    out.mkdir(parents=True, exist_ok=True)

    def write(item: tuple[str, Any]) -> None:
        name, feature_map = item
        target = inside(out, f"{name}{suffix}")
        if suffix == FORMATS["nrrd"]:
            values = feature_map.values if box else feature_map.array()
            origin = feature_map.box_origin if box else feature_map.grid.origin
            _write_nrrd(target, values, feature_map.grid, origin)
        else:
            _write_file(target, feature_map.image(box=box))

    with ThreadPoolExecutor(WRITERS if box else 1) as pool:
        futures = [pool.submit(write, item) for item in maps.items()]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:  # KeyboardInterrupt too
            pool.shutdown(cancel_futures=True)
            raise


def _write_single(out: Path, maps: dict[str, Any]) -> None:
    """Every map as one component of ``out``/:data:`SINGLE_NAME`, on the block they share
    (the ROI's box plus the kernel radius, placed on the image as a single map's file is),
    the components' feature names in order in the header field ``MAPS_FEATURES_FIELD``.
    One file instead of 93: the per-file work (creating, renaming, compressing a small
    stream, reading it back) is paid once (``bench_maps --command``)."""
    out.mkdir(parents=True, exist_ok=True)
    first = next(iter(maps.values()))
    stacked = np.stack([feature_map.values for feature_map in maps.values()], axis=-1)
    fields = {MAPS_FEATURES_FIELD: " ".join(maps)}
    _write_nrrd(inside(out, SINGLE_NAME), stacked, first.grid, first.box_origin, fields)


def _write_nrrd(
    target: Path,
    values: np.ndarray,
    grid: Any,
    origin: tuple[float, ...],
    fields: dict[str, str] | None = None,
) -> None:
    """``values`` (a map, or with ``fields`` the stacked maps as components) as a gzip NRRD
    file on ``grid``'s spacing and direction at ``origin``, through a temporary file renamed
    when whole and checked (:func:`_replacing`)."""
    data = nrrd_bytes(
        values,
        grid.spacing,
        origin,
        grid.direction,
        components=fields is not None,
        fields=fields,
    )
    with _replacing(target) as temporary:
        write_nrrd(temporary, data)


def _write_file(target: Path, image: sitk.Image) -> None:
    """``image`` to ``target`` through SimpleITK (NIfTI), as :func:`_write_nrrd` does."""
    with _replacing(target) as temporary:
        write_medical_image(image, temporary, compression_level=COMPRESSION_LEVEL)


@contextlib.contextmanager
def _replacing(target: Path) -> Iterator[Path]:
    """A temporary file in ``target``'s folder, renamed onto it when whole (``replaced``); a
    failure is a ``WriteError`` naming ``target`` (the writer's own message may not)."""
    try:
        with replaced(target) as temporary:
            yield temporary
    except OSError as err:
        reason = err.strerror or str(err)
        raise WriteError(target, f"the map cannot be written ({reason})") from None


def _progress(done: int, total: int, message: str) -> None:
    """A one-line progress display on stderr."""
    percent = 100 * done // max(total, 1)
    print(f"\r{percent:3d}% {message:<40.40}", end="", file=sys.stderr, flush=True)
