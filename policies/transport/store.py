"""Append-only transition store: every batch the learner acknowledges is on disk first.

File layout (`transitions.rlog`):

    b"RLSTORE1"                                   8-byte file magic
    record*: magic u32 | length u32 | crc32 u32 | payload (length bytes)      little endian

The payload is the batch message as received (wire.frames_to_record), so the store needs no format
of its own and reading it back runs the same checks as the network. Each record is written with one
write() call.

Crash safety: a kill -9 (or a power cut) can leave only the last record incomplete. `open()` scans
the file, and a tail record that is short or fails its CRC is dropped (the file is truncated to the
last good record and the dropped byte count is logged). A bad record *followed by good data* is not
a torn tail but corruption, and is refused with its byte offset rather than silently cut.

fsync policy: with fsync=True (the default) `sync()` calls os.fsync, and the learner acknowledges a
batch only after the sync that covers it, so "acknowledged" means "on disk": it survives kill -9 and
power loss. The learner syncs once per group of batches it received together (group commit).
With fsync=False acknowledged means "in the OS page cache": it survives a killed learner, not a
power cut.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import Callable, Iterator

FILE_MAGIC = b"RLSTORE1"
RECORD_MAGIC = 0x52454331  # "REC1"
_HEAD = struct.Struct("<III")
MAX_RECORD = 1 << 31


class StoreError(RuntimeError):
    """The store file is corrupt in a way that is not a torn tail (or not a store at all)."""


class TransitionStore:
    """An append-only log of records (bytes payloads). Not thread-safe: one writer, the learner."""

    def __init__(self, path: str | Path, fsync: bool = True, log: Callable[[str], None] = print):
        self.path = Path(path)
        self.fsync = fsync
        self.log = log
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            with open(self.path, "wb") as f:
                f.write(FILE_MAGIC)
                f.flush()
                os.fsync(f.fileno())
        self._end = self._recover()
        self._f = open(self.path, "r+b", buffering=0)  # unbuffered: one record, one write() call
        self._f.seek(self._end)
        self.records = self._count
        self._dirty = False

    def _recover(self) -> int:
        """Check every record, truncate a torn tail; returns the offset after the last good record."""
        size = self.path.stat().st_size
        self._count = 0
        with open(self.path, "rb") as f:
            if f.read(len(FILE_MAGIC)) != FILE_MAGIC:
                raise StoreError(f"{self.path} is not a roboloop transition store (bad file magic)")
            end = len(FILE_MAGIC)
            for end, _ in self._iter(f, size):
                self._count += 1
        if end < size:
            self.log(f"transition store {self.path}: dropped a torn tail record "
                     f"({size - end} bytes at offset {end}, from an interrupted write)")
            with open(self.path, "r+b") as f:
                f.truncate(end)
                os.fsync(f.fileno())
        return end

    def _iter(self, f, size: int) -> Iterator[tuple[int, bytes]]:
        """(end offset, payload) of each good record from f's position; raises StoreError on mid-file corruption."""
        while True:
            start = f.tell()
            head = f.read(_HEAD.size)
            if len(head) < _HEAD.size:
                return  # clean end, or a torn record header
            magic, length, crc = _HEAD.unpack(head)
            payload = f.read(length) if magic == RECORD_MAGIC and length < MAX_RECORD else b""
            good = magic == RECORD_MAGIC and len(payload) == length and zlib.crc32(payload) == crc
            if not good:
                f.seek(start)
                if (magic == RECORD_MAGIC and start + _HEAD.size + length >= size) or not f.read().strip(b"\0"):
                    return  # a torn last record (or the zero fill a power cut leaves): the caller drops it
                raise StoreError(f"{self.path}: corrupt record at byte {start} with data after it; this is not "
                                 f"an interrupted write, so nothing is truncated. Move the file aside to start over.")
            yield f.tell(), payload

    def append(self, payload: bytes) -> None:
        """Write one record (not yet durable: call sync() before acknowledging it)."""
        self._f.write(_HEAD.pack(RECORD_MAGIC, len(payload), zlib.crc32(payload)) + payload)
        self._dirty = True
        self.records += 1

    def sync(self) -> None:
        """Make every appended record durable (see the module docstring for the fsync policy)."""
        if self._dirty:
            if self.fsync:
                os.fsync(self._f.fileno())
            self._dirty = False

    def __iter__(self) -> Iterator[bytes]:
        """Every durable record's payload, oldest first."""
        self.sync()
        with open(self.path, "rb") as f:
            f.seek(len(FILE_MAGIC))
            for _, payload in self._iter(f, os.fstat(f.fileno()).st_size):
                yield payload

    def close(self) -> None:
        self.sync()
        self._f.close()
