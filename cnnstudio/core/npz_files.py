"""``.npz`` files from outside, read with bounds and without pickles.

An ``.npz`` is a zip of ``.npy`` arrays, each with a small header that gives its dtype and
shape. numpy allocates what a header says before it reads the data, so a 1 KB file whose
header claims a 10^12-element array ends in a MemoryError, and a zip member that unpacks
to gigabytes is a bomb. :func:`read_npz` reads the zip's directory and every header first
(:mod:`numpy.lib.format`) and refuses, naming the file and the limit: a file that is not a
regular file, more members or bytes than the limits, an array whose data is not in the
file, and object arrays (pickles, which could run code). Only then does numpy load it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from cnnstudio.core import files
from cnnstudio.core.errors import InputError

MAX_FILE_BYTES = 8 * 2**30
MAX_ARRAY_BYTES = 8 * 2**30  # all arrays together, in memory
MAX_MEMBERS = 64
#: zip bombs: a member of more than BOMB_BYTES unpacking to more than MAX_RATIO x its
#: packed size (an array of zeros packs 1000:1, so smaller ones are let through: the total
#: is bounded by MAX_ARRAY_BYTES anyway)
MAX_RATIO = 1000
BOMB_BYTES = 256 * 2**20
_NPY_MAGIC = b"\x93NUMPY"


def _not_a_zip(path: Path, handle: BinaryIO) -> InputError:
    """What a file that is not a zip archive is, in words (not "pickles")."""
    handle.seek(0)
    head = handle.read(4096)
    if head.startswith(_NPY_MAGIC):
        reason = "is a single .npy array, not an .npz archive; save it with numpy.savez"
    elif not head:
        reason = "is empty"
    elif head.startswith(b"PK\x03\x04"):
        reason = "is an .npz archive cut short (its end is missing); copy it again"
    else:
        try:
            head.decode("utf-8")
            reason = "is a text file, not an .npz archive"
        except UnicodeDecodeError:
            reason = "is not an .npz archive (not a zip file, or one cut short)"
    return files.file_error(path, "", reason, "data")


def _check_member(path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """The in-memory size of one ``.npy`` member, from its header; InputError if it is
    not a plain numeric array whose data is all in the file."""
    label = f"{path.name}: {member.filename}"
    if not member.filename.endswith(".npy"):
        raise InputError(f"{label} is not a numpy array (.npy)", param="data")
    if member.file_size > BOMB_BYTES and member.file_size > MAX_RATIO * max(
        member.compress_size, 1
    ):
        raise InputError(
            f"{label} unpacks to {files.megabytes(member.file_size)} from "
            f"{files.megabytes(member.compress_size)} (a zip bomb); it was refused",
            param="data",
        )
    with archive.open(member) as stream:
        try:
            version = npy_format.read_magic(stream)
            if version == (1, 0):
                shape, _fortran, dtype = npy_format.read_array_header_1_0(stream)
            else:
                shape, _fortran, dtype = npy_format.read_array_header_2_0(stream)
            header_bytes = stream.tell()
        except (ValueError, EOFError, OSError, SyntaxError, TypeError) as error:
            reason = str(error).splitlines()[0][:100] if str(error) else "unreadable header"
            raise InputError(
                f"{label} is not a readable numpy array ({reason})", param="data"
            ) from None
    if dtype.hasobject:
        raise InputError(
            f"{label} holds Python objects (pickles), which are refused; save plain numeric "
            "arrays with numpy.savez",
            param="data",
        )
    count = 1
    for side in shape:
        count *= int(side)
    size = count * dtype.itemsize
    if size > member.file_size - header_bytes:
        raise InputError(
            f"{label}: its header promises {count:,} values of {dtype} "
            f"({files.megabytes(size)}) but the file holds "
            f"{files.megabytes(member.file_size)}; it is damaged or cut short",
            param="data",
        )
    return size


def read_npz(path: str | Path, *, max_array_bytes: int | None = None) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` file ``path`` ({name: array}), checked first (see the
    module's notes); InputError naming the file and the reason otherwise."""
    path = Path(path)
    max_array_bytes = MAX_ARRAY_BYTES if max_array_bytes is None else max_array_bytes
    with files.open_regular(path, what="", max_bytes=MAX_FILE_BYTES, param="data") as handle:
        if not zipfile.is_zipfile(handle):
            raise _not_a_zip(path, handle)
        handle.seek(0)
        try:
            with zipfile.ZipFile(handle) as archive:
                members = archive.infolist()
                if len(members) > MAX_MEMBERS:
                    raise InputError(
                        f"{path.name} holds {len(members)} arrays, more than the limit of "
                        f"{MAX_MEMBERS}",
                        param="data",
                    )
                total = sum(_check_member(path, archive, m) for m in members)
                if total > max_array_bytes:
                    raise InputError(
                        f"{path.name}: its arrays take {files.megabytes(total)}, more than "
                        f"the limit of {files.megabytes(max_array_bytes)}",
                        param="data",
                    )
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as data:
                return {key: data[key] for key in data.files}
        except InputError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as error:
            reason = str(error).splitlines()[0][:100] if str(error) else type(error).__name__
            raise InputError(
                f"{path.name} is damaged or cut short ({reason})", param="data"
            ) from None
        except MemoryError:
            raise InputError(
                f"{path.name} does not fit in the memory that is free", param="data"
            ) from None
