"""Wire format: round trips, and every kind of bad frame is a WireError that names the problem."""
import msgpack
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from roboloop.policies.transport.wire import Message, WireError, decode, encode, frames_to_record, record_to_frames


def sample() -> Message:
    return Message("transitions", {"actor": "a", "seq": 3},
                   {"obs/front": np.arange(2 * 8 * 8 * 3, dtype=np.uint8).reshape(2, 8, 8, 3),
                    "action": np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4),
                    "done": np.array([False, True])})


@pytest.mark.parametrize("compress", [(), ("obs/front",)])
def test_round_trip_keeps_dtype_shape_and_values(compress):
    msg = sample()
    out = decode(encode(msg, compress=compress))
    assert out.type == msg.type and out.meta == msg.meta
    for k, v in msg.arrays.items():
        assert out.arrays[k].dtype == v.dtype and out.arrays[k].shape == v.shape
        np.testing.assert_array_equal(out.arrays[k], v)
    # the store keeps exactly these frames
    assert decode(record_to_frames(frames_to_record(encode(msg)))).meta == msg.meta


def header(**over):
    h = {"proto": "roboloop", "v": 1, "type": "transitions", "meta": {}, "arrays": [["x", "float32", [2], "raw", 8]]}
    h.update(over)
    return msgpack.packb(h)


@pytest.mark.parametrize("frames, reason", [
    ([], "empty message"),
    ([b"\xc1garbage"], "not valid msgpack"),
    ([msgpack.packb([1, 2])], "not a roboloop message"),
    ([header(v=2), b"\0" * 8], "protocol version 2"),
    ([header(type="exec"), b"\0" * 8], "unknown message type"),
    ([header()], "truncated"),
    ([header(), b"\0" * 5], "frame has 5 bytes"),
    ([header(arrays=[["x", "object", [2], "raw", 16]]), b"\0" * 16], "dtype 'object'"),
    ([header(arrays=[["x", "float32", [-1], "raw", -4]]), b""], "shape"),
    ([header(arrays=[["x", "float32", [2], "raw", 9]]), b"\0" * 9], "declares 9 bytes"),
    ([header(arrays=[["x", "uint8", [1 << 40], "raw", 1 << 40]]), b""], "exceed the limit"),
    ([header(arrays=[["x", "uint8", [8], "zlib", 8]]), b"not zlib"], "zlib data is corrupt"),
    ([header(arrays=[["x", "float32", [2], "pickle", 8]]), b"\0" * 8], "codec 'pickle'"),
])
def test_bad_frames_are_refused_with_a_reason(frames, reason):
    with pytest.raises(WireError, match=reason):
        decode(frames)


def test_zip_bomb_stops_at_the_declared_size():
    import zlib
    bomb = zlib.compress(b"\0" * (64 << 20))
    with pytest.raises(WireError, match="exactly 16 bytes"):
        decode([header(arrays=[["x", "uint8", [16], "zlib", 16]]), bomb])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), min_size=1, max_size=4))
def test_random_frames_never_raise_anything_but_wire_error(frames):
    try:
        decode(frames)
    except WireError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_or_flipped_frames_are_refused_or_decoded(data):
    frames = [bytes(f) for f in encode(sample())]
    i = data.draw(st.integers(0, len(frames) - 1))
    cut = data.draw(st.integers(0, max(0, len(frames[i]) - 1)))
    frames[i] = frames[i][:cut]
    with pytest.raises(WireError):
        decode(frames)
