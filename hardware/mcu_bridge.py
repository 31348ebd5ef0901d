"""Host side of the policy firmware's serial protocol (hardware/firmware/protocol.h), over pyserial.

`MCUPolicy` implements the policy interface, `act(obs, deterministic) -> action` (as the agent and the
ONNX actor do), so a policy running on a microcontroller drops into `evaluate()` or a robot loop. The port is any pyserial URL: a
device (`/dev/ttyACM0`) or `socket://127.0.0.1:PORT` (QEMU's emulated UART).

A fault never produces a motion: a timeout, a bad checksum that a retry does not cure, an error frame, a
non-finite or out-of-range action all raise MCUError, and the caller stops the robot.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

import numpy as np

SYNC = b"\xa5\x5a"
HELLO, OBS, BENCH = 0x01, 0x02, 0x03
INFO, ACT, BENCH_RESULT, ERROR = 0x81, 0x82, 0x83, 0xFF
PROTOCOL_VERSION = 1
MAX_PAYLOAD = 512
ERROR_NAMES = {1: "bad checksum", 2: "bad payload length", 3: "unknown frame type"}
STATUS_NAMES = {1: "the observation had a NaN/inf", 2: "the policy produced a NaN/inf action"}


class MCUError(RuntimeError):
    """The microcontroller did not answer, answered garbage, or reported a fault: stop the robot."""


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as in protocol.c."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def encode_frame(ftype: int, seq: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is over the protocol's {MAX_PAYLOAD}")
    body = struct.pack("<BBH", ftype, seq & 0xFF, len(payload)) + payload
    return SYNC + body + struct.pack("<H", crc16(body))


@dataclass
class MCUInfo:
    obs_dim: int
    act_dim: int
    policy_id: int
    int8: bool
    protocol: int


class MCUBridge:
    """One serial link to the firmware. Frames are matched to requests by sequence number."""

    def __init__(self, url: str, timeout_s: float = 2.0, baudrate: int = 115200, retries: int = 1):
        import serial
        try:
            self.port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout_s)
        except (serial.SerialException, OSError, ValueError) as e:
            raise MCUError(f"cannot open {url}: {e}") from None
        sock = getattr(self.port, "_socket", None)
        if sock is not None:  # socket:// (QEMU, ser2net): send each request at once, not after Nagle's delay
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.url, self.timeout_s, self.retries = url, timeout_s, retries
        self.seq = 0
        self.info: MCUInfo | None = None

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> "MCUBridge":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------ framing
    def _read_exact(self, n: int, deadline: float) -> bytes:
        out = b""
        while len(out) < n:
            if time.monotonic() > deadline:
                raise TimeoutError
            out += self.port.read(n - len(out))
        return out

    def _read_frame(self, deadline: float) -> tuple[int, int, bytes] | None:
        """The next frame; None if one arrived with a bad checksum (skipped)."""
        prev = b""
        while True:  # hunt for the sync pair, byte by byte
            b = self._read_exact(1, deadline)
            if prev == b"\xa5" and b == b"\x5a":
                break
            prev = b
        head = self._read_exact(4, deadline)
        ftype, seq, length = struct.unpack("<BBH", head)
        if length > MAX_PAYLOAD:
            return None
        payload = self._read_exact(length, deadline)
        (crc,) = struct.unpack("<H", self._read_exact(2, deadline))
        return (ftype, seq, payload) if crc16(head + payload) == crc else None

    def request(self, ftype: int, payload: bytes, expect: int, timeout_s: float | None = None) -> bytes:
        """Send one frame and return the payload of the matching reply of type `expect`."""
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        for attempt in range(self.retries + 1):
            self.seq = (self.seq + 1) & 0xFF
            self.port.write(encode_frame(ftype, self.seq, payload))
            deadline = time.monotonic() + timeout_s
            try:
                while True:
                    frame = self._read_frame(deadline)
                    if frame is None:
                        break  # corrupted reply: resend
                    rtype, rseq, rpayload = frame
                    if rseq != self.seq:
                        continue  # a stale reply to an earlier, timed-out request
                    if rtype == ERROR:
                        code = rpayload[0] if rpayload else 0
                        if code == 1 and attempt < self.retries:
                            break  # our frame was corrupted on the way: resend
                        raise MCUError(f"{self.url}: firmware refused frame type 0x{ftype:02x}: "
                                       f"{ERROR_NAMES.get(code, f'error {code}')}")
                    if rtype != expect:
                        raise MCUError(f"{self.url}: expected frame type 0x{expect:02x}, got 0x{rtype:02x}")
                    return rpayload
            except TimeoutError:
                if attempt == self.retries:
                    raise MCUError(f"{self.url}: no reply within {timeout_s:.1f} s to frame type 0x{ftype:02x} "
                                   f"(firmware not running, wrong port or baud rate?)") from None
        raise MCUError(f"{self.url}: replies to frame type 0x{ftype:02x} kept failing their checksum")

    # ------------------------------------------------------------------------------ commands
    def hello(self) -> MCUInfo:
        p = self.request(HELLO, b"", INFO)
        if len(p) != 10:
            raise MCUError(f"{self.url}: INFO frame of {len(p)} bytes, expected 10")
        obs_dim, act_dim, pid, quant, version = struct.unpack("<HHIBB", p)
        if version != PROTOCOL_VERSION:
            raise MCUError(f"{self.url}: firmware speaks protocol {version}, this bridge {PROTOCOL_VERSION}")
        self.info = MCUInfo(obs_dim, act_dim, pid, bool(quant), version)
        return self.info

    def step(self, obs: np.ndarray) -> tuple[np.ndarray, int]:
        """(action (A,) float32, status) for one observation (D,). status 0 = ok (see STATUS_NAMES)."""
        info = self.info or self.hello()
        obs = np.asarray(obs, dtype="<f4").reshape(-1)
        if obs.size != info.obs_dim:
            raise ValueError(f"observation has {obs.size} values, the firmware's policy takes {info.obs_dim}")
        p = self.request(OBS, obs.tobytes(), ACT)
        if len(p) != 1 + 4 * info.act_dim:
            raise MCUError(f"{self.url}: ACT frame of {len(p)} bytes, expected {1 + 4 * info.act_dim}")
        return np.frombuffer(p[1:], dtype="<f4").astype(np.float32), p[0]

    def bench(self, n: int) -> dict[str, float]:
        """Instructions per policy_step, from SysTick ticks under QEMU -icount (see firmware main.c).

        ticks_per_instruction comes from a loop of known length, so no clock frequency is assumed.
        """
        if not 1 <= n <= 100_000:
            raise ValueError(f"bench n must be in [1, 100000], got {n}")
        p = self.request(BENCH, struct.pack("<I", n), BENCH_RESULT, timeout_s=max(self.timeout_s, 60.0))
        policy, empty, calib, calib_insns = struct.unpack("<IIII", p)
        per_insn = calib / calib_insns
        return {"instructions": (policy - empty) / per_insn / n, "ticks_per_instruction": per_insn,
                "policy_ticks": policy, "empty_ticks": empty, "n": n}


class MCUPolicy:
    """An actor whose policy runs on the microcontroller: obs dict -> action (A,) float32 in [-1, 1]."""

    def __init__(self, bridge: MCUBridge, obs_key: str = "state", expect_obs_dim: int | None = None,
                 expect_act_dim: int | None = None):
        self.bridge, self.obs_key = bridge, obs_key
        info = bridge.hello()
        for what, want, got in (("observation", expect_obs_dim, info.obs_dim), ("action", expect_act_dim, info.act_dim)):
            if want is not None and want != got:
                raise MCUError(f"firmware policy has {what} size {got}, this task needs {want}: flash the right policy")

    def act(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        """obs {"state": (D,)} -> action (A,) float32 in [-1, 1]. The firmware runs the mean action only,
        so `deterministic` has no effect."""
        act, status = self.bridge.step(obs[self.obs_key])
        if status != 0:
            raise MCUError(f"firmware policy fault: {STATUS_NAMES.get(status, f'status {status}')}")
        if not np.all(np.isfinite(act)) or np.any(np.abs(act) > 1.0):
            raise MCUError(f"firmware returned an action outside [-1, 1]: {act.tolist()}")
        return act

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return self.act(obs, deterministic=True)
