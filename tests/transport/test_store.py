"""The append-only store: durable records, a torn tail (what kill -9 mid-write leaves) is dropped,
corruption in the middle is refused rather than cut."""
import pytest

from roboloop.policies.transport.store import StoreError, TransitionStore


def fill(path, n):
    s = TransitionStore(path, log=lambda m: None)
    for i in range(n):
        s.append(f"record {i} ".encode() * (i + 1))
    s.sync()
    s.close()


def test_records_come_back_in_order_across_reopen(tmp_path):
    fill(tmp_path / "t.rlog", 5)
    s = TransitionStore(tmp_path / "t.rlog", log=lambda m: None)
    assert s.records == 5
    s.append(b"six")
    s.sync()
    assert [r[:8] for r in s] == [b"record 0", b"record 1", b"record 2", b"record 3", b"record 4", b"six"]


@pytest.mark.parametrize("cut", [1, 5, 12, 20])   # inside the record header, and inside the payload
def test_torn_tail_is_dropped_and_logged(tmp_path, cut):
    path = tmp_path / "t.rlog"
    fill(path, 3)
    good = path.stat().st_size
    with open(path, "ab") as f:   # the first `cut` bytes of a fourth record, as an interrupted write leaves them
        import struct, zlib
        payload = b"record 3 " * 4
        f.write((struct.pack("<III", 0x52454331, len(payload), zlib.crc32(payload)) + payload)[:cut])
    logs = []
    s = TransitionStore(path, log=logs.append)
    assert s.records == 3 and path.stat().st_size == good
    assert "torn tail" in logs[0] and f"{cut} bytes" in logs[0]
    s.append(b"after")   # appending continues cleanly after the cut
    s.close()
    assert list(TransitionStore(path, log=lambda m: None))[-1] == b"after"


def test_zero_filled_tail_is_dropped(tmp_path):
    path = tmp_path / "t.rlog"
    fill(path, 2)
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)   # what a power cut can leave after an extending write
    assert TransitionStore(path, log=lambda m: None).records == 2


def test_corruption_in_the_middle_is_refused_and_nothing_is_cut(tmp_path):
    path = tmp_path / "t.rlog"
    fill(path, 4)
    data = bytearray(path.read_bytes())
    data[22] ^= 0xFF   # inside the first record's payload (bytes 20..28)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt record at byte 8"):
        TransitionStore(path, log=lambda m: None)
    assert path.read_bytes() == bytes(data)


def test_a_foreign_file_is_refused(tmp_path):
    (tmp_path / "x").write_bytes(b"PK\x03\x04 not a store")
    with pytest.raises(StoreError, match="not a roboloop transition store"):
        TransitionStore(tmp_path / "x")
