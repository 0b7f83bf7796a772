"""A MATLAB v7.3 struct's numeric fields read straight from the file's bytes, without HDF5.

Reading a slice of the brain-tumour dataset through HDF5 costs about twice the inflating of its
compressed chunks: opening the file, five datasets and their attributes, one call per chunk,
each through h5py's wrappers and the HDF5 library's caches. MATLAB writes these files in the
HDF5 format's oldest and simplest form (superblock version 0, version 1 object headers, groups
as symbol tables, chunks indexed by a version 1 B-tree), so here the file is read once into
memory, that form is walked with ``struct``, and the chunks are inflated with libdeflate (the
``deflate`` package), each in one call into a buffer of the chunk's declared size.

Only that form is understood. Anything else (another superblock or header version, new-style
groups, shared or dense messages, a filter but deflate, a chunk never written, an offset outside
the file, a checksum that fails) raises :class:`Unusual`, and the caller reads the file through
HDF5, which reads every layout and names every problem. So this reader never has to word an
error, and it never returns values HDF5 would not: tests/io/test_mat_bytes.py compares it with
h5py on every layout the writers make and on damaged copies of them.
"""

from __future__ import annotations

import functools
import math
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import deflate
import numpy as np

from napari_radiomics.io import _hdf5_messages as messages
from napari_radiomics.io._hdf5_messages import Unusual
from napari_radiomics.io._matlab73 import MAX_FIELD_VALUES, MAX_INFLATE_RATIO

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_UNDEFINED = (1 << 64) - 1  # an address that is not set
#: A slice's file is a few hundred KiB; a larger one is read through HDF5, which reads only
#: the parts it needs instead of the whole file.
MAX_FILE_BYTES = 64 << 20
_CHUNK_K = 32  # half a chunk B-tree node's entries (the version 0 superblock's default)
_MAX_NODES = 4096  # B-tree nodes or header blocks walked for one object: no loop runs forever

# Message types of a version 1 object header (HDF5 file format specification, IV.A.2).
_DATASPACE, _DATATYPE, _LAYOUT, _FILTERS, _ATTRIBUTE = 0x1, 0x3, 0x8, 0xB, 0xC
_CONTINUATION, _SYMBOL_TABLE, _FILL_VALUE, _OLD_FILL_VALUE = 0x10, 0x11, 0x5, 0x4
#: Messages a dataset may hold that say nothing of its values: NIL, a continuation,
#: modification times (which every header's walk checks as HDF5 decodes them: ``_messages``).
_IGNORED = frozenset({0x0, _CONTINUATION, messages.OLD_TIME, messages.TIME})
#: What walking or inflating malformed bytes raises (a structure read past its end, a bad
#: value, a stream libdeflate refuses): the file is then left to HDF5.
_MALFORMED = (struct.error, ValueError, KeyError, IndexError, OverflowError, deflate.DeflateError)


@dataclass
class Field:
    """One dataset: its values as h5py gives them (HDF5's shape, native dtype), its
    ``MATLAB_class`` ("" without one) and the names of its attributes."""

    values: np.ndarray
    matlab_class: str
    attributes: set[str] = field(default_factory=set)


def read_struct(path: Path, name: str, fields: tuple[str, ...]) -> dict[str, Field]:
    """The named fields of the struct ``name`` in a v7.3 file; :class:`Unusual` for any file
    not in MATLAB's form (a v5 file, a damaged or a differently written one)."""
    with path.open("rb") as file:
        # (read(n) would allocate n bytes first: the size is asked instead)
        if os.fstat(file.fileno()).st_size > MAX_FILE_BYTES:
            raise Unusual("larger than a slice")
        data = file.read()
    try:
        return _File(data).struct(name, fields)
    except _MALFORMED as exc:
        raise Unusual(str(exc)) from None


class _File:
    """An HDF5 file image: the superblock read, then objects found and read on demand."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.base = self._superblock()
        # The root group's symbol table entry: its header, and what it caches (as in a group).
        self.root = self._entry(self.base + 56)

    def _superblock(self) -> int:
        """Where the superblock is: at 0, 512, 1024, ... (after MATLAB's userblock)."""
        at = 0
        while at + 8 <= len(self.data) and self.data[at : at + 8] != _SIGNATURE:
            at = 512 if at == 0 else 2 * at
        if at + 96 > len(self.data):
            raise Unusual("no HDF5 signature")
        # The superblock's version, then the versions of the free space, the root group's
        # symbol table entry and the shared header messages: version 0 has 0 in all four,
        # and HDF5 refuses any other value in the last three.
        versions = self.data[at + 8 : at + 11] + self.data[at + 12 : at + 13]
        offsets, lengths = self.data[at + 13], self.data[at + 14]
        if versions != bytes(4) or offsets != 8 or lengths != 8:
            raise Unusual(f"superblock versions {versions.hex()}, {offsets}-byte offsets")
        # Nodes are read whole, at the sizes these K values give (2K entries each).
        self.leaf_k, self.group_k, flags = struct.unpack_from("<HHI", self.data, at + 16)
        if flags or not self.leaf_k or not self.group_k:
            raise Unusual("bad flag value for superblock")
        base, extension, end, driver = struct.unpack_from("<QQQQ", self.data, at + 24)
        if base != at or extension != _UNDEFINED or driver != _UNDEFINED:
            raise Unusual("a base address, superblock extension or driver information")
        if end > len(self.data):  # (the end of file counts the userblock in)
            raise Unusual("truncated file")  # as HDF5 refuses it, even where nothing is missing
        self.end = end  # HDF5 reads nothing past it, whatever the file holds after
        return base

    def struct(self, name: str, fields: tuple[str, ...]) -> dict[str, Field]:
        members = self._group(*self._group(*self.root)[name])
        if any(members[f][1] is not None for f in fields):
            raise Unusual("a dataset's entry caches a symbol table")
        return {f: self._dataset(members[f][0]) for f in fields}

    def _at(self, address: int, size: int) -> int:
        """The file position of ``size`` bytes at ``address``, checked to lie in the file."""
        position = self.base + address
        if address < 0 or position + size > self.end:
            raise Unusual("an address outside the file")
        return position

    def _messages(self, address: int) -> list[tuple[int, int, int]]:
        """A version 1 object header's messages, continuation blocks followed:
        (type, position of the message's data, its size)."""
        version, _, count, _, size = struct.unpack_from("<BBHII", self.data, self._at(address, 16))
        if version != 1:
            raise Unusual(f"object header version {version}")
        blocks, found = [(self._at(address, 16) + 16, size)], []
        while blocks:
            if len(blocks) + len(found) > _MAX_NODES:
                raise Unusual("too many header blocks")
            position, length = blocks.pop()
            end = position + length
            if end > self.end:
                raise Unusual("a header block outside the file")
            while position + 8 <= end:
                kind, length, flags = struct.unpack_from("<HHB", self.data, position)
                body = position + 8
                if body + length > end or length % 8:
                    raise Unusual("a message past its header block or not aligned")
                if flags & 0x02:
                    raise Unusual("a shared message")
                if kind in (messages.OLD_TIME, messages.TIME):
                    messages.modification_time(self.data, kind, body, length)
                if kind == _CONTINUATION:
                    more, more_size = struct.unpack_from("<QQ", self.data, body)
                    blocks.append((self._at(more, more_size), more_size))
                found.append((kind, body, length))
                position = body + length
            if position != end:  # HDF5 refuses a block its messages do not fill
                raise Unusual("a header block not filled by its messages")
        if len(found) != count:
            raise Unusual("incorrect number of header messages")  # as HDF5 counts them
        return found

    def _entry(self, position: int) -> tuple[int, tuple[int, int] | None]:
        """A symbol table entry: the object's header address, and the group's B-tree and heap
        addresses when the entry caches them."""
        header, cache, tree, heap = struct.unpack_from("<8xQI4xQQ", self.data, position)
        if cache > 2:
            raise Unusual("unknown symbol table entry cache type")
        return header, ((tree, heap) if cache == 1 else None)

    def _group(
        self, address: int, cached: tuple[int, int] | None
    ) -> dict[str, tuple[int, tuple[int, int] | None]]:
        """A symbol-table group's members: name -> their entry (``_entry``). A symbol table
        cached otherwise than the group's header says is left to HDF5, which decides."""
        tables = [body for kind, body, _ in self._messages(address) if kind == _SYMBOL_TABLE]
        if len(tables) != 1:
            raise Unusual("not a symbol-table group")
        tree, heap = struct.unpack_from("<QQ", self.data, tables[0])
        if cached is not None and cached != (tree, heap):
            raise Unusual("a symbol table cached otherwise")
        signature, version, heap_size, free, heap_address = struct.unpack_from(
            "<4sB3xQQQ", self.data, self._at(heap, 32)
        )
        if signature != b"HEAP" or version != 0:
            raise Unusual("no local heap")
        names = self._at(heap_address, heap_size)
        for _ in range(_MAX_NODES):  # the free list checked as HDF5 checks it (1 ends it)
            if free == 1:
                break
            following, size = struct.unpack_from("<QQ", self.data, names + free)
            if free >= heap_size or following == 0 or free + size > heap_size:
                raise Unusual("bad heap free list")
            free = following
        else:
            raise Unusual("bad heap free list")
        entries, last = self._tree_entries(tree, 0, _GROUP_KEY)
        if len(last) != 1:
            raise Unusual("a group of more than one B-tree node")

        def name(offset: int) -> bytes:
            if offset >= heap_size:
                raise Unusual("a name outside the local heap")
            end = self.data.index(0, names + offset, names + heap_size)
            return self.data[names + offset : end]

        bounds = [name(key) for key in [*entries["key"].tolist(), int(last[0])]]
        members: dict[str, tuple[int, tuple[int, int] | None]] = {}
        for index, node in enumerate(entries["child"].tolist()):
            position = self._at(node, 8)
            signature, version, count = struct.unpack_from("<4sBxH", self.data, position)
            if signature != b"SNOD" or version != 1:
                raise Unusual("no symbol table node")
            if count > 2 * self.leaf_k:
                raise Unusual("a symbol table node fuller than its size")
            self._at(node, 8 + 80 * self.leaf_k)
            found = [bounds[index]]
            for entry in range(count):
                at = position + 8 + 40 * entry
                found.append(name(struct.unpack_from("<Q", self.data, at)[0]))
                # HDF5 finds a name by binary search: names out of order it would not find
                if not found[-2] < found[-1] <= bounds[index + 1] or not found[-1]:
                    raise Unusual("symbol table names out of order")
                members[found[-1].decode("utf-8")] = self._entry(at)
        return members

    def _tree_entries(
        self, address: int, kind: int, key: np.dtype
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (key, child) entries of a version 1 B-tree's leaf level, in key order, read with
        NumPy (``key`` is the node kind's key; a chunk's gives its offset, size and filters),
        then each node's last key (which bounds its children and no child follows)."""
        entry = _entry(key)
        leaves: list[np.ndarray] = []
        last: list[np.ndarray] = []
        pending, visited = [address], 0
        while pending:
            visited += 1
            if visited > _MAX_NODES:
                raise Unusual("too many B-tree nodes")
            position = self._at(pending.pop(), 24)
            signature, node_kind, level, used = struct.unpack_from("<4sBBH", self.data, position)
            if signature != b"TREE" or node_kind != kind:
                raise Unusual("no B-tree node")
            width = 2 * (self.group_k if kind == 0 else _CHUNK_K)
            if used > width:
                raise Unusual("a B-tree node fuller than its size")
            self._at(position - self.base + 24, entry.itemsize * width + key.itemsize)
            entries = np.frombuffer(self.data, entry, used, position + 24)
            last.append(np.frombuffer(self.data, key, 1, position + 24 + entry.itemsize * used))
            if level:
                pending.extend(reversed(entries["child"].tolist()))
            else:
                leaves.append(entries)
        return np.concatenate(leaves) if leaves else np.empty(0, entry), np.concatenate(last)

    def _dataset(self, address: int) -> Field:
        shape = dtype = layout = None
        filters: list[int] = []
        matlab_class, attributes = "", set()
        for kind, body, size in self._messages(address):
            if kind == _DATASPACE:
                shape = messages.dataspace(self.data, body, size)
            elif kind == _DATATYPE:
                dtype = messages.datatype(self.data, body)
            elif kind == _LAYOUT:
                layout = body
            elif kind == _FILTERS:
                filters = messages.filters(self.data, body, size)
            elif kind == _ATTRIBUTE:
                attribute, text = messages.attribute(self.data, body, size)
                attributes.add(attribute)
                if attribute == "MATLAB_class":
                    if text is None:
                        raise Unusual("MATLAB_class is not one string")
                    matlab_class = text
            elif kind == _FILL_VALUE:
                messages.fill_value(self.data, body, size)
            elif kind == _OLD_FILL_VALUE:  # (its value is never needed, as the new one's)
                messages.old_fill_value(self.data, body, size)
            elif kind not in _IGNORED:
                raise Unusual(f"header message {kind}")  # dense attributes, external data, ...
        if shape is None or dtype is None or layout is None:
            raise Unusual("a dataset without its dataspace, datatype or layout")
        count = math.prod(shape)
        if count > MAX_FIELD_VALUES:
            raise Unusual("larger than a slice")  # HDF5's reader refuses it with the message
        return Field(self._values(layout, shape, dtype, filters), matlab_class, attributes)

    def _values(
        self, layout: int, shape: tuple[int, ...], dtype: np.dtype, filters: list[int]
    ) -> np.ndarray:
        version, kind = self.data[layout], self.data[layout + 1]
        if version != 3:
            raise Unusual(f"layout version {version}")
        nbytes = math.prod(shape) * dtype.itemsize
        if kind == 0 and not filters:  # compact: the values in the header
            size = struct.unpack_from("<H", self.data, layout + 2)[0]
            position = layout + 4
        elif kind == 1 and not filters:  # contiguous
            address, size = struct.unpack_from("<QQ", self.data, layout + 2)
            position = self._at(address, size)
        elif kind == 2 and filters == [messages.DEFLATE]:
            return self._chunked(layout, shape, dtype)
        else:
            raise Unusual("a layout or filter this reader does not know")
        if size != nbytes:
            raise Unusual("stored size differs from the declared shape")
        values = np.frombuffer(self.data, dtype, math.prod(shape), position)
        return values.reshape(shape).astype(dtype.newbyteorder("="))

    def _chunked(self, layout: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """Deflated chunks through their B-tree, each inflated to at most its declared size
        (a hostile stream cannot inflate past it) and placed at its offset."""
        rank = len(shape)
        dimensionality, tree = struct.unpack_from("<BQ", self.data, layout + 2)
        if dimensionality != rank + 1:
            raise Unusual("chunk rank differs from the dataset's")
        *chunk, element = struct.unpack_from(f"<{rank + 1}I", self.data, layout + 11)
        if element != dtype.itemsize or 0 in chunk:
            raise Unusual("chunk element size differs from the datatype's")
        grid = tuple(-(-n // c) for n, c in zip(shape, chunk, strict=True))
        if math.prod(grid) * math.prod(chunk) > 2 * MAX_FIELD_VALUES:
            raise Unusual("chunks far larger than the data")
        entries, last = self._tree_entries(tree, 1, _chunk_key(rank))
        # A chunk index written whole holds every chunk once, in C order of the grid (HDF5
        # finds a chunk by key order: one out of it, it would miss; one missing, it would read
        # as the fill value), with no filter skipped: one comparison with that index says so.
        if len(entries) != math.prod(grid):
            raise Unusual("a chunk never written (HDF5 knows its fill value) or written twice")
        if entries["key"]["mask"].any():
            raise Unusual("a filter skipped for a chunk")
        if entries["key"]["offset"].tobytes() != _whole_index(grid, tuple(chunk)):
            raise Unusual("a chunk off the dataset's grid, written twice or out of key order")
        for offset in last["offset"].tolist():  # HDF5 checks every key, the last ones too
            if any(n % c for n, c in zip(offset, [*chunk, element], strict=True)):
                raise Unusual("bad coordinate offset")
        # Each chunk checked to lie in the file and to be able to inflate to its declared size
        # (deflate expands at most MAX_INFLATE_RATIO times: nothing here allocates more than
        # the file's size times that), then inflated by libdeflate into a buffer of exactly
        # that size: a stream that would write more, is cut short, or fails its checksum
        # raises, so a hostile stream cannot inflate past it; one that ends short of it is
        # refused below. (The size fits libdeflate's unsigned 32-bit argument, which wraps
        # silently: the grid check above bounds a chunk to 2 * MAX_FIELD_VALUES values of at
        # most 8 bytes, 1 GiB.) The chunks, in the grid's order, are joined and moved to
        # their places in one copy (a copy per chunk cost more in Python than in memory).
        size = math.prod(chunk) * dtype.itemsize
        data, inflated, inflate = memoryview(self.data), [], deflate.zlib_decompress
        for child, length in zip(
            entries["child"].tolist(), entries["key"]["stored"].tolist(), strict=True
        ):
            start = self.base + child
            if start + length > self.end:
                raise Unusual("a chunk outside the file")
            if size > MAX_INFLATE_RATIO * length:
                raise Unusual("a chunk declared larger than its stored bytes can inflate to")
            inflated.append(inflate(data[start : start + length], size))
            if len(inflated[-1]) != size:
                raise Unusual("a chunk that does not inflate to its size")
        blocks = np.frombuffer(b"".join(inflated), dtype).reshape(*grid, *chunk)
        axes = [axis for k in range(rank) for axis in (k, rank + k)]  # grid and chunk paired
        padded = blocks.transpose(axes).reshape([g * c for g, c in zip(grid, chunk, strict=True)])
        values = padded[tuple(slice(0, n) for n in shape)]  # edge chunks cut to the data
        # (a copy unless the reshape made one: the joined bytes are read-only)
        return np.require(values, dtype.newbyteorder("="), ["C_CONTIGUOUS", "WRITEABLE"])


@functools.lru_cache(maxsize=16)
def _whole_index(grid: tuple[int, ...], chunk: tuple[int, ...]) -> bytes:
    """The chunk offsets of an index that holds every chunk of the grid, in key (C) order,
    as the file stores them: each chunk's corner, then 0 (the offset in the element's bytes).
    (Bytes: comparing them costs a fraction of ``np.array_equal``'s fixed costs.)"""
    corners = np.indices(grid).reshape(len(grid), -1).T * np.array(chunk)
    offsets = np.zeros((len(corners), len(grid) + 1), "<u8")
    offsets[:, :-1] = corners
    return offsets.tobytes()


#: The keys of a group's B-tree node: an offset into the group's local heap.
_GROUP_KEY = np.dtype("<u8")


@functools.cache
def _chunk_key(rank: int) -> np.dtype:
    """The key of a chunk B-tree node of a rank ``rank`` dataset: the chunk's stored size, its
    skipped filters, its offset in each dimension and in the element (NumPy builds a
    structured dtype in microseconds, several times a file: each is made once)."""
    return np.dtype([("stored", "<u4"), ("mask", "<u4"), ("offset", "<u8", (rank + 1,))])


@functools.cache
def _entry(key: np.dtype) -> np.dtype:
    """A B-tree node's entry: its key, then its child's address."""
    return np.dtype([("key", key), ("child", "<u8")])
