"""NRRD, NIfTI and MetaImage files through SimpleITK, with their geometry kept.

Radiomics features depend on voxel spacing, so the geometry is never dropped. The conversion is
:mod:`napari_radiomics.convert`'s, the one the engine uses: ``scale == spacing[::-1]``,
``translate == origin[::-1]``, and a non-identity direction (an oblique or flipped acquisition)
becomes a napari ``affine`` rotating about the origin, so napari's world coordinates are
SimpleITK's physical points. This module adds what a file reader needs on top: which files are
masks, and errors that name the file; and the way this package writes such a file
(:func:`write_medical_image`), checked whole after writing: a gzip NRRD file by decompressing
its pixels and comparing their length and CRC-32 with the image's, any other file by reading
it back and comparing the voxels. Feature maps' NRRD files have a faster writer of their own,
``io.nrrd_maps``.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from napari_radiomics.convert import label_problem, sitk_pixels_problem, sitk_to_layer_data
from napari_radiomics.errors import ConversionError, ReadError
from napari_radiomics.io.metadata import CaseMetadata

#: Image formats SimpleITK reads that pyradiomics users keep their scans in (double suffix
#: first, so ``.nii.gz`` is not taken for ``.gz``); napari.yaml's reader patterns list them too.
MEDICAL_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
MASK_NAME_HINTS: tuple[str, ...] = ("_label", "label_", "mask", "seg")
MAX_MASK_VALUES = 16  # an integer image with at most this many distinct values is a mask
#: Most voxels a file may declare (2048 x 2048 x 256 at 2 bytes is 2 GB); a header declaring
#: more is refused before SimpleITK allocates the pixels.
MAX_VOXELS = 1 << 30
#: The NRRD header field of ``napari-radiomics maps --single-file``'s ``maps.nrrd``: the
#: components' feature names, in order, separated by spaces. A multi-component file with it
#: opens as one map per component; any other vector image is refused.
MAPS_FEATURES_FIELD = "napari_radiomics_features"


@dataclass(frozen=True)
class MedicalImage:
    """Pixels in napari axis order and the geometry napari needs to place them."""

    data: np.ndarray
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    affine: np.ndarray | None
    is_mask: bool
    path: Path
    metadata: CaseMetadata
    #: SimpleITK's ``spacing``, ``origin`` and ``direction`` as the file stores them (x, y, z)
    geometry: dict[str, tuple[float, ...]] = field(default_factory=dict)
    #: A ``maps.nrrd`` file's feature names, one per component; ``data`` then has them as its
    #: last axis (napari's ``channel_axis``). Empty for a scalar image.
    channels: tuple[str, ...] = ()

    @property
    def layer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a napari layer (``affine`` only when it is not identity)."""
        kwargs: dict[str, Any] = {"scale": self.scale, "translate": self.translate}
        if self.affine is not None:
            kwargs["affine"] = self.affine
        return kwargs


def medical_suffix(path: str | Path) -> str | None:
    """The recognised suffix of ``path`` (``.nii.gz`` counts as one), or None."""
    name = Path(path).name.lower()
    return next((s for s in MEDICAL_SUFFIXES if name.endswith(s)), None)


def case_name(path: str | Path) -> str:
    """The file name without its (possibly double) medical suffix."""
    name = Path(path).name
    suffix = medical_suffix(path)
    return name[: -len(suffix)] if suffix else Path(path).stem


def read_medical_image(path: str | Path) -> MedicalImage:
    """Read an image or mask; masks are recognised by file name or by their content."""
    path = Path(path)
    image = _read(path)
    channels = _map_names(path, image)
    try:
        if channels:  # the geometry from one component, the pixels with every component
            scalar = len(channels) == 1 and image.GetNumberOfComponentsPerPixel() == 1
            first = image if scalar else sitk.VectorIndexSelectionCast(image, 0)
            _, kwargs = sitk_to_layer_data(first)
            data = sitk.GetArrayFromImage(image)
            data = data[..., np.newaxis] if scalar else data  # the maps' axis, last
        else:
            data, kwargs = sitk_to_layer_data(image)
    except ConversionError as exc:
        raise ReadError(path, f"{exc}; open a single-channel image") from exc
    is_mask = not channels and looks_like_mask(path, data)
    if is_mask:
        data = _as_label_array(path, data)
    geometry = {
        "spacing": tuple(image.GetSpacing()),
        "origin": tuple(image.GetOrigin()),
        "direction": tuple(image.GetDirection()),
    }
    return MedicalImage(
        data=data,
        scale=tuple(kwargs["scale"]),
        translate=tuple(kwargs["translate"]),
        affine=kwargs.get("affine"),
        is_mask=is_mask,
        path=path,
        metadata=CaseMetadata(case_name(path), path=str(path)),
        geometry=geometry,
        channels=channels,
    )


def read_medical_sitk(path: str | Path) -> sitk.Image:
    """An image file as SimpleITK reads it, geometry as stored, for the engine: no napari
    conversion (``read_medical_image``'s copy to NumPy and back cost a whole-image pass or
    two per ``maps`` run). A file of several components per voxel (a ``maps --single-file``
    file, a colour image) is refused naming the file: it is no grey-level image."""
    path = Path(path)
    image = _read(path)
    if names := _map_names(path, image):
        raise maps_file_refused(path, len(names))
    try:
        sitk_pixels_problem(image)
    except ConversionError as exc:
        raise ReadError(path, f"{exc}; open a single-channel image") from exc
    return image


def maps_file_refused(path: Path, maps: int) -> ReadError:
    """The refusal of a ``maps --single-file`` file given as an image or mask to map."""
    return ReadError(
        path,
        f"is a maps.nrrd of `maps --single-file` ({maps} feature map(s) per voxel), not a "
        "grey-level image; map the image the maps came from",
    )


def _read(path: Path) -> sitk.Image:
    """``path`` read by SimpleITK, refused naming it if missing, unreadable or declaring more
    than :data:`MAX_VOXELS` values (checked from the header, before allocating)."""
    if not path.is_file():
        raise ReadError(path, "file not found")
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        reader.ReadImageInformation()
        size = reader.GetSize()
        voxels = int(np.prod(size, dtype=np.float64)) * reader.GetNumberOfComponents()
        if voxels > MAX_VOXELS:
            raise ReadError(
                path,
                f"declares {' x '.join(map(str, size))} voxels ({voxels:.3g} values); at most "
                f"{MAX_VOXELS} are read, so the file is refused before allocating it",
            )
        return reader.Execute()
    except RuntimeError as exc:
        problem = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
        raise ReadError(path, f"SimpleITK cannot read it: {problem}") from exc


def _map_names(path: Path, image: sitk.Image) -> tuple[str, ...]:
    """The feature names of a ``maps --single-file`` file (an image whose header names its
    components in :data:`MAPS_FEATURES_FIELD`; one map is a scalar image), or () for any
    other image."""
    components = image.GetNumberOfComponentsPerPixel()
    if not image.HasMetaDataKey(MAPS_FEATURES_FIELD):
        return ()
    names = tuple(image.GetMetaData(MAPS_FEATURES_FIELD).split())
    if len(names) != components or len(set(names)) != len(names):
        raise ReadError(
            path,
            f"its header field {MAPS_FEATURES_FIELD} names {len(set(names))} different maps "
            f"for {components} components; it is not a whole napari-radiomics maps file",
        )
    return names


def looks_like_mask(path: Path, data: np.ndarray) -> bool:
    """A mask by name (``*_label*``, ``*mask*``, ``*seg*``) or by few integer values."""
    name = case_name(path).lower()
    if any(hint in name for hint in MASK_NAME_HINTS):
        if _is_integral(data):
            return True
        warnings.warn(
            f"{path}: named like a mask but holds non-integer values; opened as an image",
            UserWarning,
            stacklevel=3,
        )
        return False
    if data.dtype != bool and not np.issubdtype(data.dtype, np.integer):
        return False
    sample = data.ravel()[:: max(1, data.size // 100_000)]
    if np.unique(sample).size > MAX_MASK_VALUES:  # cheap rejection of real images
        return False
    values = np.unique(data)
    return values.size <= MAX_MASK_VALUES and values.min() >= 0


def _is_integral(data: np.ndarray) -> bool:
    if data.dtype == bool or np.issubdtype(data.dtype, np.integer):
        return True
    return bool(np.all(np.isfinite(data)) and np.all(np.mod(data, 1) == 0))


def _as_label_array(path: Path, data: np.ndarray) -> np.ndarray:
    """napari Labels need integers >= 0 (the engine's own rule, ``convert.label_problem``);
    keep the values, pick a fitting dtype."""
    problem = label_problem(data)
    if problem is not None:
        raise ReadError(path, f"mask {problem}")
    if data.dtype == bool or not np.issubdtype(data.dtype, np.integer):
        top = int(data.max()) if data.size else 0
        return data.astype(np.min_scalar_type(top) if top > 1 else np.uint8)
    return data


def write_medical_image(
    image: sitk.Image, path: str | Path, *, compression_level: int = -1
) -> None:
    """Write ``image`` to ``path`` (compressed where the format allows), then check that the
    file is whole.

    SimpleITK reports no error when the disk fills up: it leaves an empty or cut-off file.
    Every NRRD/NIfTI file this package writes (a feature map, a corrected mask, an exported or
    saved layer) goes through here, so a full disk is an ``OSError`` naming the problem
    instead of a file that silently holds nothing. ``compression_level``: gzip's level (1
    fastest, 9 smallest; -1 the format's default); every level is plain gzip, which any
    NRRD/NIfTI reader opens. SimpleITK releases the GIL while it writes and reads, so several
    files can be written at once from threads.

    A gzip NRRD file is not read back through SimpleITK: its pixels are decompressed with
    ``zlib`` and their length and CRC-32 compared with the image's (a feature map's box: 0.8 ms
    against 1.7 ms read back, 93 times per ``maps`` run), which refuses a cut-off file and a
    changed byte as reading back does. Other files are read back and compared.
    """
    try:
        sitk.WriteImage(image, str(path), True, compression_level)
    except RuntimeError as exc:  # SimpleITK's own report of a failed write
        raise OSError(str(exc).strip().splitlines()[-1]) from None
    expected = sitk.GetArrayViewFromImage(image)
    whole = _gzip_nrrd_is_whole(Path(path), expected)
    if whole is None:  # not a gzip NRRD
        whole = _reads_back_equal(image, path, expected)
    if not whole:
        raise OSError("the file written is incomplete; is the disk full?")


def _reads_back_equal(image: sitk.Image, path: str | Path, expected: np.ndarray) -> bool:
    try:
        back = sitk.ReadImage(str(path))  # kept referenced: a view does not keep its image
    except RuntimeError:
        return False
    # Only finite voxels are compared: NIfTI reads a NaN voxel back as 0.
    finite = np.isfinite(expected) if np.issubdtype(expected.dtype, np.floating) else ...
    return back.GetSize() == image.GetSize() and np.array_equal(
        sitk.GetArrayViewFromImage(back)[finite], expected[finite]
    )


#: Bytes read at a time while looking for an NRRD header's end or decompressing its pixels.
_CHUNK = 1 << 16


def _gzip_nrrd_is_whole(path: Path, expected: np.ndarray) -> bool | None:
    """Whether the ``.nrrd`` file SimpleITK wrote at ``path`` holds its whole header and, after
    it, one whole gzip stream of exactly ``expected``'s bytes: the stream is decompressed in
    chunks (nothing the size of the image is allocated, no image reader is set up) and its
    length and CRC-32 compared with ``expected``'s, so a file cut off anywhere, a byte changed
    anywhere in the stream, or bytes after it are all refused.
    The header is read up to its blank line however long it is (``maps --single-file`` names
    every map in it). None when ``path`` is not an NRRD file or its pixels are not
    gzip-encoded (read it back instead)."""
    if path.suffix.lower() != ".nrrd":
        return None
    with path.open("rb") as file:
        head = bytearray(file.read(_CHUNK))
        if not head.startswith(b"NRRD"):
            return False
        while (end := head.find(b"\n\n")) < 0:
            chunk = file.read(_CHUNK)
            if not chunk:
                return False
            head += chunk
        fields = head[:end].decode("latin-1").splitlines()
        encoding = next(
            (f.split(":", 1)[1].strip() for f in fields if f.startswith("encoding:")), ""
        )
        if encoding not in ("gzip", "gz"):
            return None
        file.seek(end + 2)
        return _gzip_holds(file, expected)


def _gzip_holds(file: Any, expected: np.ndarray) -> bool:
    """Whether ``file``, from where it stands to its end, is one gzip stream of ``expected``'s
    bytes in memory order (a file SimpleITK writes holds the pixels in the machine's byte
    order, components fastest, as NumPy's view of the image lays them out)."""
    stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header and trailer checked
    crc, length = 0, 0
    try:
        while chunk := file.read(_CHUNK):
            while chunk:  # at most _CHUNK x 16 bytes out at a time: NaN runs compress 1000:1
                if stream.eof:  # bytes after the stream
                    return False
                data = stream.decompress(chunk, 16 * _CHUNK)
                crc, length = zlib.crc32(data, crc), length + len(data)
                chunk = stream.unconsumed_tail
        data = stream.flush()
        crc, length = zlib.crc32(data, crc), length + len(data)
    except zlib.error:  # not gzip, or a damaged stream (its own checksum failed)
        return False
    whole = np.ascontiguousarray(expected)
    return (
        stream.eof
        and not stream.unused_data
        and length == whole.nbytes
        and crc == zlib.crc32(memoryview(whole).cast("B"))
    )
