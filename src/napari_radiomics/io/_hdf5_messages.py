"""What one message of a version 1 HDF5 object header says, decoded as HDF5 decodes it.

The direct ``.mat`` reader (``_hdf5_bytes``) walks the file; here are the messages it meets in
a dataset's header (dataspace, datatype, fill value, filters, attributes) and the modification
times HDF5 decodes in every header it opens. Each is a function of the file's bytes and the
message's position, and raises :class:`Unusual` for any form it does not know or any value
HDF5 would refuse, so the caller leaves the file to HDF5.
"""

from __future__ import annotations

import struct

import numpy as np

#: Modification times: the old form (14 ASCII digits) and the new one (a version, seconds).
OLD_TIME, TIME = 0xE, 0x12
DEFLATE = 1
#: IEEE little-endian floats as HDF5 describes them: class bit fields, then bit offset,
#: precision, exponent location and size, mantissa location and size, exponent bias.
_FLOATS = {
    (4, b"\x20\x1f\x00", (0, 32, 23, 8, 0, 23, 127)): np.dtype("<f4"),
    (8, b"\x20\x3f\x00", (0, 64, 52, 11, 0, 52, 1023)): np.dtype("<f8"),
}


class Unusual(Exception):
    """The file is not in the form this reader walks: read it through HDF5 instead."""


def _padded(size: int) -> int:
    """A version 1 message's parts are padded to multiples of eight bytes."""
    return -(-size // 8) * 8


def modification_time(data: bytes, kind: int, body: int, length: int) -> None:
    """A modification time checked as HDF5 decodes it: the old message's 14 digits
    (YYYYMMDDhhmmss), the new one's version."""
    if kind == OLD_TIME and (length < 14 or not data[body : body + 14].isdigit()):
        raise Unusual("badly formatted modification time message")
    if kind == TIME and data[body] != 1:
        raise Unusual("bad version number for mtime message")


def dataspace(data: bytes, body: int, length: int) -> tuple[int, ...]:
    """A simple dataspace's sizes, its maximum sizes checked as HDF5 checks them (within the
    message, none smaller than its size)."""
    version, rank, flags = struct.unpack_from("<BBB", data, body)
    if version == 1:
        start = body + 8
    elif version == 2 and data[body + 3] == 1:  # a simple (not scalar, not null) space
        start = body + 4
    else:
        raise Unusual("a scalar or null dataspace")
    if rank == 0 or rank > 32 or flags & 0x02:
        raise Unusual("a scalar dataspace, a permutation or a rank HDF5 refuses")
    if start + 8 * rank * (2 if flags & 0x01 else 1) > body + length:
        raise Unusual("ran off end of input buffer while decoding")
    sizes = struct.unpack_from(f"<{rank}Q", data, start)
    if flags & 0x01:  # maximum sizes follow (unlimited is 2**64 - 1, never smaller)
        maxima = struct.unpack_from(f"<{rank}Q", data, start + 8 * rank)
        if any(size > most for size, most in zip(sizes, maxima, strict=True)):
            raise Unusual("dataspace size greater than its maximum size")
    return sizes


def datatype(data: bytes, body: int) -> np.dtype:
    """Little-endian integers and IEEE floats only: the only types MATLAB's numeric
    classes become (complex numbers, text as HDF5 strings and references are not)."""
    head, bits = data[body], data[body + 1 : body + 4]
    size = struct.unpack_from("<I", data, body + 4)[0]
    version, kind = head >> 4, head & 0x0F
    if version != 1:
        raise Unusual(f"datatype version {version}")
    integer = kind == 0 and (bits[0] & ~0x08) == 0 and bits[1:] == b"\x00\x00"
    if integer and size in (1, 2, 4, 8):
        offset, precision = struct.unpack_from("<HH", data, body + 8)
        if offset == 0 and precision == 8 * size:
            return np.dtype(f"<{'i' if bits[0] & 0x08 else 'u'}{size}")
    if kind == 1:
        properties = struct.unpack_from("<HHBBBBI", data, body + 8)
        found = _FLOATS.get((size, bytes(bits), properties))
        if found is not None:
            return found
    raise Unusual(f"datatype class {kind}")


def fill_value(data: bytes, body: int, length: int) -> None:
    """The fill value message decoded as far as HDF5 decodes it when the dataset opens
    (its value is never needed: a chunk not written makes the file unusual here)."""
    version = data[body]
    if version in (1, 2):
        defined, start = version == 1 or data[body + 3], body + 4
    elif version == 3:
        defined, start = data[body + 1] & 0x20, body + 2
    else:
        raise Unusual(f"fill value version {version}")
    if defined:
        size = struct.unpack_from("<I", data, start)[0]
        if start + 4 + size > body + length:
            raise Unusual("a fill value past its message")


def old_fill_value(data: bytes, body: int, length: int) -> None:
    """The old fill value message (its size, then the value), bounded as HDF5 decodes it."""
    if 4 + struct.unpack_from("<I", data, body)[0] > length:
        raise Unusual("an old fill value past its message")


def filters(data: bytes, body: int, length: int) -> list[int]:
    """The filters' identifiers, in the pipeline's order (version 1 messages only), each
    filter's name and values within the message, as HDF5 decodes them."""
    version, count = data[body], data[body + 1]
    if version != 1:
        raise Unusual(f"filter pipeline version {version}")
    position, found = body + 8, []
    for _ in range(count):
        ident, name, _, values = struct.unpack_from("<HHHH", data, position)
        if name % 8:
            raise Unusual("filter name length is not a multiple of eight")
        position += 8 + name
        if position + 4 * (values + values % 2) > body + length:
            raise Unusual("ran off end of input buffer while decoding")
        level = struct.unpack_from("<I", data, position)[0] if values else None
        if ident == DEFLATE and (values != 1 or level is None or level > 9):
            raise Unusual("bad deflate level")  # HDF5's deflate filter refuses to run
        position += 4 * (values + values % 2)
        found.append(ident)
    return found


def attribute(data: bytes, body: int, length: int) -> tuple[str, str | None]:
    """An attribute's name, and its value when it is one fixed-length string (as h5py
    gives it: trailing NULs dropped); None for any other value."""
    version, _, name_size, type_size, space_size = struct.unpack_from("<BBHHH", data, body)
    if version != 1:
        raise Unusual(f"attribute message version {version}")
    name_at = body + 8
    name = data[name_at : name_at + name_size].rstrip(b"\x00").decode("utf-8")
    type_at = name_at + _padded(name_size)
    space_at = type_at + _padded(type_size)
    value_at = space_at + _padded(space_size)
    if data[type_at] & 0x0F != 3 or data[space_at + 1] != 0:
        return name, None  # not a string, or not a scalar
    if data[type_at + 1] & 0x0F > 2 or data[type_at + 1] >> 4 > 1:
        raise Unusual("unknown string padding or encoding")
    size = struct.unpack_from("<I", data, type_at + 4)[0]
    if value_at + size > body + length:
        raise Unusual("an attribute value past its message")
    return name, data[value_at : value_at + size].rstrip(b"\x00").decode("ascii", "replace")
