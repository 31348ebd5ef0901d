"""The wire format shared by actors, the learner and the on-disk transition store.

A message is a list of frames (ZMQ multipart):

    frame 0   msgpack map  {"proto": "roboloop", "v": 1, "type": <str>, "meta": <map>,
                            "arrays": [[name, dtype, shape, codec, nbytes], ...]}
    frame i   the raw bytes of array i-1 (C order), or its zlib stream when codec == "zlib"

Typed and self-describing: every array names its dtype and shape, so a reader needs no shared Python
classes, and nothing is ever unpickled. Every size is checked against the limits *before* anything is
allocated: the header's own length, the number of arrays, each declared array size, and for zlib
frames the decompressed size (a zip bomb stops at the declared size + 1 byte). The frames of one
message together are bounded too (`decode`'s max_bytes), checked before any array is built, so many
frames each under a per-frame limit cannot add up to an unbounded message.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import msgpack
import numpy as np

PROTO = "roboloop"
VERSION = 1
MESSAGE_TYPES = ("hello", "welcome", "transitions", "ack", "ping", "pong", "weights", "stop", "error")
DTYPES = ("bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64", "float16", "float32", "float64")
CODECS = ("raw", "zlib")
MAX_HEADER_BYTES = 1 << 20
MAX_ARRAYS = 256
MAX_NDIM = 8


class WireError(ValueError):
    """A frame that is not a valid roboloop message; the text says what is wrong with it."""


@dataclass
class Message:
    type: str
    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def encode(msg: Message, compress: Sequence[str] = (), level: int = 1) -> list[bytes | memoryview]:
    """Message -> frames. Arrays named in `compress` are zlib-compressed (worth it for images)."""
    if msg.type not in MESSAGE_TYPES:
        raise WireError(f"unknown message type {msg.type!r}")
    specs, frames = [], []
    for name, arr in msg.arrays.items():
        arr = np.ascontiguousarray(arr).reshape(np.shape(arr))   # ascontiguousarray alone makes 0-d arrays 1-d
        if arr.dtype.name not in DTYPES:
            raise WireError(f"array {name!r} has dtype {arr.dtype}, the wire carries only {', '.join(DTYPES)}")
        codec = "zlib" if name in compress else "raw"
        data = zlib.compress(arr.data, level) if codec == "zlib" else arr.data.cast("B")
        specs.append([name, arr.dtype.name, list(arr.shape), codec, arr.nbytes])
        frames.append(data)
    header = msgpack.packb({"proto": PROTO, "v": VERSION, "type": msg.type, "meta": msg.meta, "arrays": specs})
    return [header, *frames]


def _header(frame: bytes | memoryview) -> dict:
    if len(frame) > MAX_HEADER_BYTES:
        raise WireError(f"header frame is {len(frame)} bytes, the limit is {MAX_HEADER_BYTES}")
    try:
        head = msgpack.unpackb(frame, raw=False, strict_map_key=True)
    except Exception as e:  # msgpack raises several types for garbage and truncated input
        raise WireError(f"header is not valid msgpack ({type(e).__name__}: {e})") from None
    if not isinstance(head, dict) or head.get("proto") != PROTO:
        raise WireError("not a roboloop message (no 'proto': 'roboloop' in the header)")
    if head.get("v") != VERSION:
        raise WireError(f"protocol version {short_repr(head.get('v'))}; this roboloop speaks version {VERSION}")
    if not isinstance(head.get("type"), str) or head["type"] not in MESSAGE_TYPES:
        raise WireError(f"unknown message type {short_repr(head.get('type'))}")
    if not isinstance(head.get("meta"), dict) or not isinstance(head.get("arrays"), list):
        raise WireError("header needs a 'meta' map and an 'arrays' list")
    return head


def decode(frames: Sequence[bytes | memoryview], max_bytes: int = 256 << 20) -> Message:
    """Frames -> Message, or WireError naming the first problem. `max_bytes` bounds all arrays together."""
    if not frames:
        raise WireError("empty message")
    if len(frames) > MAX_ARRAYS + 1:
        raise WireError(f"{len(frames)} frames; a message holds at most {MAX_ARRAYS + 1}")
    size = sum(len(f) for f in frames)
    if size > max_bytes + MAX_HEADER_BYTES:
        raise WireError(f"message of {size} bytes exceeds the limit of {max_bytes + MAX_HEADER_BYTES} bytes")
    head = _header(frames[0])
    specs = head["arrays"]
    if len(specs) > MAX_ARRAYS:
        raise WireError(f"{len(specs)} arrays; the limit is {MAX_ARRAYS}")
    if len(specs) != len(frames) - 1:
        raise WireError(f"header lists {len(specs)} arrays but {len(frames) - 1} data frames came (truncated?)")
    arrays: dict[str, np.ndarray] = {}
    total = 0
    for spec, data in zip(specs, frames[1:]):
        if not (isinstance(spec, list) and len(spec) == 5):
            raise WireError(f"array entry {short_repr(spec)} is not [name, dtype, shape, codec, nbytes]")
        name, dtype, shape, codec, nbytes = spec
        if not isinstance(name, str) or len(name) > 128 or name in arrays:
            raise WireError(f"bad or repeated array name {short_repr(name)}")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise WireError(f"array {name!r}: dtype {short_repr(dtype)} is not one of {', '.join(DTYPES)}")
        if not isinstance(codec, str) or codec not in CODECS:
            raise WireError(f"array {name!r}: codec {short_repr(codec)} is not one of {', '.join(CODECS)}")
        if (not isinstance(shape, list) or len(shape) > MAX_NDIM
                or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d for d in shape)):
            raise WireError(f"array {name!r}: shape {short_repr(shape)} is not a list of at most {MAX_NDIM} sizes >= 0")
        expect = int(np.prod(shape, dtype=np.float64)) * np.dtype(dtype).itemsize
        if type(nbytes) is not int or nbytes != expect:
            raise WireError(f"array {name!r}: declares {short_repr(nbytes)} bytes, {dtype}{tuple(shape)} is {expect}")
        total += expect
        if total > max_bytes:
            raise WireError(f"message arrays exceed the limit of {max_bytes} bytes")
        if codec == "zlib":
            d = zlib.decompressobj()
            try:
                raw = d.decompress(data, expect + 1)
            except zlib.error as e:
                raise WireError(f"array {name!r}: zlib data is corrupt ({e})") from None
            if len(raw) != expect or not d.eof:
                raise WireError(f"array {name!r}: zlib data does not inflate to exactly {expect} bytes")
            data = raw
        elif len(data) != expect:
            raise WireError(f"array {name!r}: frame has {len(data)} bytes, {dtype}{tuple(shape)} needs {expect}")
        try:
            arrays[name] = np.frombuffer(data, dtype=dtype).reshape(shape)
        except (ValueError, OverflowError, MemoryError) as e:   # numpy's limits, e.g. a dimension it cannot index
            raise WireError(f"array {name!r}: {dtype}{tuple(shape)} cannot be built ({type(e).__name__}: {e})") from None
    return Message(head["type"], head["meta"], arrays)


def short_repr(value: Any, limit: int = 80) -> str:
    """repr() cut to `limit` characters: error texts never repeat an attacker-sized value."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def frames_to_record(frames: Sequence[bytes | memoryview]) -> bytes:
    """Frames -> one bytes object (a msgpack array of bin), the payload of a store record."""
    return msgpack.packb([bytes(f) for f in frames])


def record_to_frames(payload: bytes) -> list[bytes]:
    try:
        frames = msgpack.unpackb(payload, raw=False)
    except Exception as e:
        raise WireError(f"record is not a msgpack list of frames ({type(e).__name__}: {e})") from None
    if not isinstance(frames, list) or not all(isinstance(f, bytes) for f in frames):
        raise WireError("record is not a list of binary frames")
    return frames
