"""v7.3 slices read straight from the file's bytes (``io._hdf5_bytes``) against HDF5's reading.

The direct reader must give h5py's values for every file in MATLAB's form, leave every other
file to HDF5, and never change what ``read_tumor_mat`` says of a broken or damaged file.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import hdf5storage
import numpy as np
import pytest

from hostile_files import BROKEN_MATS
from napari_radiomics import read_tumor_mat, write_tumor_mat
from napari_radiomics.errors import ReadError
from napari_radiomics.io import _mat_fields
from napari_radiomics.io._hdf5_bytes import Unusual, read_struct
from napari_radiomics.io.synthetic import make_synthetic_slice
from sample_files import case_arrays, write_v5, write_v73

FIELDS = _mat_fields.FIELDS


def _hdf5storage(path: Path) -> Path:
    """The slice as another MATLAB-compatible writer stores it (shuffled and checksummed)."""
    tumor = make_synthetic_slice(seed=6, shape=(90, 120))
    cjdata = {
        "label": np.float64(2),
        "PID": np.str_("MR048994B"),
        "image": tumor.image,
        "tumorBorder": np.arange(1.0, 25.0).reshape(1, -1),
        "tumorMask": tumor.mask,
    }
    hdf5storage.savemat(str(path), {"cjdata": cjdata}, format="7.3", store_python_metadata=False)
    return path


def _rewritten(path: Path, **options: object) -> Path:
    """The reference case with its image stored with other HDF5 options."""
    write_v73(path, case_arrays())
    with h5py.File(path, "r+") as f:
        image = f["cjdata/image"][()]
        del f["cjdata/image"]
        f["cjdata"].create_dataset("image", data=image, **options)
        f["cjdata/image"].attrs["MATLAB_class"] = np.bytes_("int16")
    return path


def _latest(path: Path) -> Path:
    """The reference case in HDF5's newest format (new-style groups, version 2 headers)."""
    source = write_v73(path.with_suffix(".old"), case_arrays())
    with h5py.File(source, "r") as old, h5py.File(path, "w", libver="latest") as new:
        old.copy("cjdata", new)
    return path


READ_DIRECTLY: dict[str, Callable[[Path], Path]] = {
    "the package's writer, 512x512": lambda p: write_tumor_mat(
        p / "512.mat", make_synthetic_slice(seed=3, shape=(512, 512))
    ),
    "256x256, as a few of the dataset's slices": lambda p: write_tumor_mat(
        p / "256.mat", make_synthetic_slice(seed=5, shape=(256, 256))
    ),
    "partial edge chunks, 100x70": lambda p: write_tumor_mat(
        p / "edge.mat", make_synthetic_slice(seed=4, shape=(100, 70))
    ),
    "h5py's own chunks, 40x56": lambda p: write_v73(p / "ref.mat", case_arrays()),
    "image stored contiguous": lambda p: _rewritten(p / "plain.mat"),
}

LEFT_TO_HDF5: dict[str, Callable[[Path], Path]] = {
    "shuffle filter": lambda p: _rewritten(p / "s.mat", compression="gzip", shuffle=True),
    "checksummed chunks": lambda p: _rewritten(p / "f.mat", compression="gzip", fletcher32=True),
    "big-endian image": lambda p: _rewritten(p / "be.mat", dtype=">i2"),
    "HDF5's newest format": lambda p: _latest(p / "new.mat"),
    "hdf5storage's defaults (shuffle, checksums)": lambda p: _hdf5storage(p / "h5s.mat"),
    "v5": lambda p: write_v5(p / "v5.mat", case_arrays()),
}


@pytest.mark.parametrize("layout", READ_DIRECTLY)
def test_fields_are_h5pys_values_dtypes_and_attributes(tmp_path: Path, layout: str) -> None:
    path = READ_DIRECTLY[layout](tmp_path)
    fields = read_struct(path, "cjdata", FIELDS)
    with h5py.File(path, "r") as f:
        for name in FIELDS:
            dataset = f["cjdata"][name]
            expected = dataset[()]
            got = fields[name].values
            assert got.dtype == expected.dtype, name
            assert got.shape == expected.shape, name
            np.testing.assert_array_equal(got, expected, err_msg=name)
            assert got.flags.writeable, name
            assert got.flags.c_contiguous, name
            assert fields[name].attributes == set(dataset.attrs), name
            matlab_class = dataset.attrs.get("MATLAB_class", b"")
            assert fields[name].matlab_class == matlab_class.decode(), name


@pytest.mark.parametrize("layout", READ_DIRECTLY)
def test_the_fast_reader_gives_the_full_readers_fields(tmp_path: Path, layout: str) -> None:
    """Every ``cjdata`` field, value, dtype and orientation (the PID as text) the same as
    h5py's high-level reader gives them."""
    path = READ_DIRECTLY[layout](tmp_path)
    full, fast = _mat_fields._read_fields_hdf5(path), _mat_fields._read_fields_plain(path)
    assert fast is not None
    assert fast.keys() == full.keys()
    for name, value in full.items():
        if isinstance(value, str):
            assert fast[name] == value
            continue
        assert fast[name].dtype == value.dtype, name
        assert fast[name].shape == value.shape, name
        np.testing.assert_array_equal(fast[name], value, err_msg=name)


@pytest.mark.parametrize("layout", LEFT_TO_HDF5)
def test_other_layouts_are_left_to_hdf5_and_still_read(tmp_path: Path, layout: str) -> None:
    path = LEFT_TO_HDF5[layout](tmp_path)
    with pytest.raises(Unusual):
        read_struct(path, "cjdata", FIELDS)
    assert read_tumor_mat(path).image.shape in ((40, 56), (90, 120))


def _outcome(path: Path) -> tuple[str, object]:
    """What ``read_tumor_mat`` gives: every field of the slice, or the error's type and text."""
    try:
        tumor = read_tumor_mat(path, allow_empty_mask=True)
    except Exception as exc:  # every outcome is compared, whatever it is
        return type(exc).__name__, str(exc)
    arrays = [tumor.image, tumor.mask, tumor.border]
    return "read", ([(a.dtype, a.shape, a.tobytes()) for a in arrays], tumor.metadata)


def _through_hdf5(monkeypatch: pytest.MonkeyPatch, path: Path) -> tuple[str, object]:
    """The same read with the direct reader switched off: HDF5 reads every field."""
    with monkeypatch.context() as patch:
        patch.setattr(_mat_fields, "_read_fields_plain", lambda path: None)
        return _outcome(path)


@pytest.mark.parametrize("kind", BROKEN_MATS)
def test_broken_files_get_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = BROKEN_MATS[kind](tmp_path / f"{kind}.mat")
    assert _outcome(path) == _through_hdf5(monkeypatch, path)


def _damaged(source: Path, folder: Path) -> list[Path]:
    """Copies of a file cut short, and with one byte flipped: every byte of its metadata
    (superblock, headers, B-trees, heaps; found as what h5py says is not data) that is not 0,
    and a seeded sample of those that are (mostly unused room), as a failing disk leaves them."""
    data = source.read_bytes()
    metadata = np.ones(len(data), bool)
    metadata[:512] = False  # MATLAB's header: text HDF5 never reads
    with h5py.File(source, "r") as f:
        for name in FIELDS:
            dataset = f["cjdata"][name].id
            stored = [(dataset.get_offset(), dataset.get_storage_size())]
            if stored[0][0] is None:
                infos = map(dataset.get_chunk_info, range(dataset.get_num_chunks()))
                stored = [(info.byte_offset, info.size) for info in infos]
            for offset, size in stored:
                metadata[offset : offset + size] = False
    values = np.frombuffer(data, np.uint8)
    zeros = np.flatnonzero(metadata & (values == 0))
    sample = np.random.default_rng(21).choice(zeros, 600, replace=False)
    copies = [data[:cut] for cut in range(0, len(data), len(data) // 40)]
    for position in [*np.flatnonzero(metadata & (values != 0)).tolist(), *sample.tolist()]:
        flipped = bytearray(data)
        flipped[position] ^= 0xFF
        copies.append(bytes(flipped))
    paths = []
    for index, copy in enumerate(copies):
        path = folder / f"{index}.mat"
        path.write_bytes(copy)
        paths.append(path)
    return paths


def test_damaged_copies_get_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A damaged file the direct reader reads is read as HDF5 reads it, or refused as HDF5
    refuses it; the metadata (superblock, headers, B-trees, heaps) is most of a small file's
    bytes. (A file it leaves to HDF5 is HDF5's by construction: nothing to compare, and HDF5
    reads memory it never filled for some damaged chunk sizes, so twice is not once.)"""
    source = write_tumor_mat(tmp_path / "1.mat", make_synthetic_slice(seed=4, shape=(100, 70)))
    read_struct(source, "cjdata", FIELDS)  # the undamaged file is read directly
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    left_to_hdf5 = 0
    for path in _damaged(source, damaged):
        if _mat_fields._read_fields_plain(path) is None:
            left_to_hdf5 += 1
            continue
        assert _outcome(path) == _through_hdf5(monkeypatch, path), path.name
    assert 0 < left_to_hdf5 < len(list(damaged.iterdir()))  # both ways were taken


#: The version bytes of a version 0 superblock (offset from its signature): HDF5 reads only
#: 0 in each, and refuses the file otherwise, naming the byte.
SUPERBLOCK_VERSIONS = {
    8: "superblock",
    9: "free space",
    10: "object directory",
    12: "shared-header format",
}


@pytest.mark.parametrize("offset", SUPERBLOCK_VERSIONS)
def test_a_superblock_version_hdf5_refuses_is_left_to_it(tmp_path: Path, offset: int) -> None:
    """Every other value of a version byte goes to HDF5, and the file is refused with HDF5's
    words (the direct reader once read the file whatever the last three held)."""
    source = write_tumor_mat(tmp_path / "1.mat", make_synthetic_slice(seed=4, shape=(40, 32)))
    data = source.read_bytes()
    at = data.index(b"\x89HDF\r\n\x1a\n") + offset
    path = tmp_path / "changed.mat"
    for value in range(1, 256):
        path.write_bytes(data[:at] + bytes([value]) + data[at + 1 :])
        with pytest.raises(Unusual):
            read_struct(path, "cjdata", FIELDS)
        with pytest.raises(ReadError, match=r"corrupt or truncated MATLAB 7\.3") as raised:
            read_tumor_mat(path)
        assert str(raised.value).startswith(f"{path}: "), value
        if offset != 8:  # (another superblock version fails on what that version holds)
            assert f"bad {SUPERBLOCK_VERSIONS[offset]} version number" in str(raised.value)


def _header_block_not_filled(data: bytearray) -> None:
    """The root group's header declaring 8 bytes more than its messages fill."""
    at = data.index(b"\x89HDF\r\n\x1a\n")
    size = at + int.from_bytes(data[at + 64 : at + 72], "little") + 8  # its first block's size
    declared = int.from_bytes(data[size : size + 4], "little")
    data[size : size + 4] = (declared + 1).to_bytes(4, "little")


def _retyped_as_modification_time(data: bytearray, attribute: bytes) -> None:
    """An attribute's message retyped as an old-style modification time, which HDF5 decodes
    as the digits YYYYMMDDhhmmss when it opens the object."""
    message = data.rindex(attribute) - 16  # the name follows the message's 16 bytes
    assert data[message : message + 2] == b"\x0c\x00"  # an attribute
    data[message] = 0x0E


def _dataspace(data: bytearray, shape: tuple[int, int]) -> int:
    """Where the dataspace message of the first field of HDF5 shape ``shape`` begins."""
    return data.index(struct.pack("<4Q", *shape, *shape)) - 8


def _size_above_its_maximum(data: bytearray) -> None:
    """The image's (or the mask's) maximum sizes made (31, 40), below its sizes (32, 40)."""
    space = _dataspace(data, (32, 40))
    data[space + 24 : space + 32] = struct.pack("<Q", 31)


def _rank_past_the_message(data: bytearray) -> None:
    """The label's (1, 1) dataspace said to have three dimensions: its sizes and maxima then
    run 16 bytes past the message (the direct reader once read the label as 1 x 1 x 1)."""
    data[_dataspace(data, (1, 1)) + 1] = 3


def _fill_value_retyped_as_the_old_one(data: bytearray) -> None:
    """A dataset's fill value message (version 2: four one-byte fields) retyped as the old
    form (a four-byte size, then the value): a size of 16 MiB, past its 8-byte message."""
    message = data.index(b"\x05\x00\x08\x00\x01\x00\x00\x00\x02")
    data[message] = 0x04


def _filter_name_past_its_message(data: bytearray) -> None:
    """The deflate filter's name said to be 136 bytes long, in a 32-byte message."""
    name = data.index(b"deflate\x00")
    data[name - 8 + 2] = 0x88  # (the filter's id, then its name's length)


FORGED_METADATA: dict[str, Callable[[bytearray], None]] = {
    "a filter's name past its message": _filter_name_past_its_message,
    "a fill value retyped as the old one": _fill_value_retyped_as_the_old_one,
    "a size above its maximum size": _size_above_its_maximum,
    "a dataspace rank past its message": _rank_past_the_message,
    "a header block its messages do not fill": _header_block_not_filled,
    "a dataset's attribute retyped as a modification time": lambda data: (
        _retyped_as_modification_time(data, b"MATLAB_class")  # the last dataset's
    ),
    "a group's attribute retyped as a modification time": lambda data: (
        _retyped_as_modification_time(data, b"MATLAB_fields")  # cjdata's
    ),
}


@pytest.mark.parametrize("forgery", FORGED_METADATA)
def test_metadata_hdf5_refuses_is_left_to_it(tmp_path: Path, forgery: str) -> None:
    """Metadata HDF5 checks when it opens an object (the direct reader once read past it):
    the direct reader leaves the file to HDF5, which refuses it."""
    source = write_tumor_mat(tmp_path / "1.mat", make_synthetic_slice(seed=4, shape=(40, 32)))
    read_struct(source, "cjdata", FIELDS)
    data = bytearray(source.read_bytes())
    FORGED_METADATA[forgery](data)
    path = tmp_path / "changed.mat"
    path.write_bytes(bytes(data))
    with pytest.raises(Unusual):
        read_struct(path, "cjdata", FIELDS)
    with pytest.raises(ReadError, match=r"corrupt or truncated MATLAB 7\.3"):
        read_tumor_mat(path)


def _forged_size(path: Path, side: int) -> Path:
    """The reference case with its image in one compressed chunk, then its declared shape (the
    dataspace's sizes and maximum sizes), chunk and the chunk index's closing key forged to
    ``side`` x ``side``: a few KiB of compressed bytes said to hold ``side**2`` values."""
    write_v73(path, case_arrays())
    with h5py.File(path, "r+") as f:
        image = f["cjdata/image"][()]
        del f["cjdata/image"]
        f["cjdata"].create_dataset("image", data=image, chunks=image.shape, compression="gzip")
        f["cjdata/image"].attrs["MATLAB_class"] = np.bytes_("int16")
    data = path.read_bytes()
    chunk = struct.pack("<III", *image.shape, image.itemsize)  # the layout's chunk sizes
    layout = data.index(chunk)
    sizes = struct.pack("<4Q", *image.shape, *image.shape)  # the dataspace: sizes, maxima
    space = data.rindex(sizes, 0, layout)  # the image's, which its header holds before
    forged = bytearray(data)
    forged[space : space + 32] = struct.pack("<4Q", side, side, side, side)
    forged[layout : layout + 12] = struct.pack("<III", side, side, image.itemsize)
    last = struct.pack("<II3Q", 0, 0, *image.shape, image.itemsize)  # the B-tree's last key
    end = data.index(last)
    forged[end : end + 32] = struct.pack("<II3Q", 0, 0, side, side, image.itemsize)
    path.write_bytes(bytes(forged))
    return path


def test_a_forged_size_is_refused_before_it_is_allocated(tmp_path: Path) -> None:
    """A 8192 x 8192 int16 image (128 MiB, within the sane maximum a field may declare) in
    one chunk of a few KiB: more than deflate can expand to. Both readers refuse it before
    allocating the declared size (the direct reader once allocated it twice, 256 MiB)."""
    path = _forged_size(tmp_path / "forged.mat", 8192)
    tracemalloc.start()
    try:
        with pytest.raises(Unusual):
            read_struct(path, "cjdata", FIELDS)
        with pytest.raises(
            ReadError, match=r"cjdata\.image: its chunks declare 134217728 bytes but the file"
        ) as raised:
            read_tumor_mat(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(raised.value).startswith(f"{path}: ")
    assert peak < 16 << 20  # the file is 20 KiB: nothing of the declared size


def test_a_chunk_within_deflates_bound_is_still_read(tmp_path: Path) -> None:
    """The bound is deflate's, not a guess: an image of zeros, compressed several hundred
    times, is read directly and equals h5py's values."""
    fields = case_arrays()
    fields["image"] = np.zeros((512, 512), np.int16)
    path = write_v73(tmp_path / "zeros.mat", fields | {"tumorMask": np.ones((512, 512), bool)})
    with h5py.File(path, "r") as f:
        ratio = f["cjdata/image"].nbytes / f["cjdata/image"].id.get_storage_size()
    assert ratio > 100
    np.testing.assert_array_equal(read_struct(path, "cjdata", FIELDS)["image"].values, 0)


#: Streams put in place of the image's first chunk (16 KiB inflated, ~7 KiB stored), as a
#: function of its size and its stored bytes, and whether HDF5 then refuses the file (what it
#: makes of a whole stream of the wrong length is its own, as before): what the direct reader
#: must refuse, within the chunk's size.
HOSTILE_STREAMS: dict[str, tuple[Callable[[int, bytes], bytes], bool]] = {
    "fewer bytes than the chunk": (lambda size, _: zlib.compress(bytes(size - 2)), False),
    "400 times the chunk": (lambda size, _: zlib.compress(bytes(400 * size), 9), False),
    "cut in half": (lambda _, stored: stored[: len(stored) // 2], True),
    "its checksum cut off": (lambda _, stored: stored[:-4], True),
    "not a zlib stream": (lambda _, stored: np.random.default_rng(21).bytes(len(stored)), True),
}


def _chunk_replaced(path: Path, stream: Callable[[int, bytes], bytes]) -> Path:
    """``path`` with the image's first chunk replaced by ``stream(size, stored)`` in place
    (no longer than the stored bytes) and its stored size in the chunk index changed to
    match: a stream the index points to exactly, as a forger would leave it."""
    with h5py.File(path, "r") as f:
        dataset = f["cjdata/image"].id
        info = dataset.get_chunk_info(0)
        size = int(np.prod(dataset.get_create_plist().get_chunk())) * dataset.dtype.itemsize
    data = bytearray(path.read_bytes())
    stored = bytes(data[info.byte_offset : info.byte_offset + info.size])
    forged = stream(size, stored)
    assert len(forged) <= info.size
    # The chunk's index entry: stored size, filter mask, offset (0, 0, 0), then its address,
    # relative to the superblock after MATLAB's 512-byte header.
    key = data.index(struct.pack("<II3QQ", info.size, 0, 0, 0, 0, info.byte_offset - 512))
    data[key : key + 4] = struct.pack("<I", len(forged))
    data[info.byte_offset : info.byte_offset + len(forged)] = forged
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("kind", HOSTILE_STREAMS)
def test_a_hostile_chunk_stream_is_refused_within_its_size(tmp_path: Path, kind: str) -> None:
    """The direct reader inflates each chunk into a buffer of its declared size: a stream
    that would write more, fewer, is cut short or is not deflate is left to HDF5, without
    inflating past the chunk (the 400x stream would be 6.4 MiB). HDF5 then refuses what it
    cannot inflate, naming the file."""
    source = write_tumor_mat(tmp_path / "1.mat", make_synthetic_slice(seed=3, shape=(512, 512)))
    stream, hdf5_refuses = HOSTILE_STREAMS[kind]
    path = _chunk_replaced(source, stream)
    tracemalloc.start()
    try:
        with pytest.raises(Unusual):
            read_struct(path, "cjdata", FIELDS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20  # the file (~300 KiB) and a chunk or two, nothing of the stream
    if hdf5_refuses:
        with pytest.raises(ReadError, match=r"corrupt or truncated MATLAB 7\.3") as raised:
            read_tumor_mat(path)
        assert str(raised.value).startswith(f"{path}: ")


def test_a_stream_of_the_chunks_size_is_read_as_hdf5_reads_it(tmp_path: Path) -> None:
    """A chunk re-compressed by another deflater, with bytes after its end (which zlib and
    HDF5 ignore), is still read directly, and as h5py reads it."""
    source = write_tumor_mat(tmp_path / "1.mat", make_synthetic_slice(seed=3, shape=(512, 512)))
    path = _chunk_replaced(
        source, lambda size, _: zlib.compress(bytes(range(256)) * (size // 256)) + b"end"
    )
    with h5py.File(path, "r") as f:
        expected = f["cjdata/image"][()]
    assert expected[:64, :128].any()  # the replaced chunk's values, not the fill value
    np.testing.assert_array_equal(read_struct(path, "cjdata", FIELDS)["image"].values, expected)
