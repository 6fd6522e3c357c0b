"""IDX files (LeCun's format for MNIST): read, bounded, verified against the canonical digest."""

import hashlib
import struct
import zlib
from typing import Any, Optional, Tuple

import numpy as np

from tf1_lstm.core import datasets, hparams
from tf1_lstm.util.errors import ToolError


class DataError(ToolError):
    """Bad, missing or unverifiable data; the message is one line naming the fix."""


def parse_idx(raw: bytes, magic: int, shape: Optional[Tuple[int, ...]] = None,
              name: str = "IDX data", max_label: int = hparams.N_OUTPUTS - 1) -> np.ndarray:
    """Parse unsigned-byte IDX bytes into an array, checking everything the header promises."""
    if len(raw) < 4:
        raise DataError("%s is truncated: %d bytes, not even a header" % (name, len(raw)))
    (found,) = struct.unpack(">i", raw[:4])
    if found != magic:
        raise DataError("%s has magic number %d, expected %d: wrong or corrupt file"
                        % (name, found, magic))
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError("%s is truncated: header needs %d bytes, file has %d"
                        % (name, header, len(raw)))
    dims = struct.unpack(">" + "i" * ndim, raw[4:header])
    if shape is not None and tuple(dims) != tuple(shape):
        raise DataError("%s has dimensions %s, expected %s" % (name, list(dims), list(shape)))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError("%s is %d bytes, expected %d for dimensions %s: %s"
                        % (name, len(raw), expected, list(dims),
                           "truncated" if len(raw) < expected else "trailing bytes"))
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.size and int(array.max()) > max_label:
        raise DataError("%s has label %d, outside 0..%d" % (name, int(array.max()), max_label))
    return array


def expected_size(spec: Any) -> int:
    """Bytes of the IDX file `spec` describes: its header and its uint8 values."""
    return 4 + 4 * len(spec.shape) + int(np.prod(spec.shape))


def decompress(blob: bytes, name: str, limit: Optional[int] = None) -> bytes:
    """Raw IDX bytes from a gzip or plain file's contents, never more than `limit` of them:
    a file that expands further is refused before it can fill the memory (a gzip bomb)."""
    if blob[:2] != b"\x1f\x8b":
        return blob
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        raw = inflater.decompress(blob, limit + 1) if limit else inflater.decompress(blob)
    except zlib.error as err:
        raise DataError("%s is a corrupt gzip file (%s): delete it and fetch it again"
                        % (name, err))
    if limit and len(raw) > limit:
        raise DataError("%s expands beyond the %d bytes its IDX file has: not the canonical file;"
                        " delete it and fetch it again" % (name, limit))
    if not inflater.eof:
        raise DataError("%s is a truncated gzip file: delete it and fetch it again" % name)
    return raw


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_idx(path: str, spec: Any, dataset: Any = datasets.MNIST,
             shown_as: Optional[str] = None) -> np.ndarray:
    """Read, verify against the canonical checksum, and parse one file of `dataset`.

    `shown_as` names the file in messages when `path` is a temp copy (a fetch in progress);
    those messages carry no advice to delete it, since the fetch removes it anyway."""
    limit = expected_size(spec)
    with open(path, "rb") as f:
        blob = f.read(limit * 2 + 4096)  # a plain file longer than this is refused below
    name = shown_as or path
    try:
        raw = decompress(blob, name, limit)
    except DataError as err:
        raise DataError(_advice(str(err), shown_as))
    digest = sha256(raw)
    if digest != spec.sha256:
        wanted = next((n for n, s in dataset.files.items() if s == spec), "file")
        other = datasets.identify(digest)
        if other:  # a valid file of another data set: the folder is wrong, not the file
            raise DataError("%s is %s, not %s's %s: that folder holds %s, not %s; pass the %s "
                            "folder as --data-dir" % (name, other, dataset.title, wanted,
                                                      other.split("'")[0], dataset.title,
                                                      dataset.title))
        what = "has SHA-256 %s..., not the canonical %s %s..." % (
            digest[:16], dataset.title, spec.sha256[:16])
        raise DataError(_advice("%s %s: delete it and fetch it again" % (name, what), shown_as))
    return parse_idx(raw, spec.magic, spec.shape, name=name)


def _advice(message, shown_as):
    return message.split(": delete it and fetch it again")[0] if shown_as else message
