"""Run firmware in qemu-system-arm with its UART on a local TCP port, for MCUBridge('socket://...').

    with QemuBoard(fw.elf, "mps2-an386") as url:
        with MCUBridge(url) as bridge: ...

-icount shift=0 makes QEMU's virtual clock advance exactly 1 ns per guest instruction, so the
firmware's SysTick counts instructions (see MCUBridge.bench). The serial port listens on 127.0.0.1 only.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from roboloop.hardware.firmware_build import APT_HINT, BOARDS, FirmwareError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QemuBoard:
    """A qemu-system-arm process running `elf` on `board`; the context value is the UART's pyserial URL."""

    def __init__(self, elf: str | Path, board: str, icount: bool = True, start_timeout_s: float = 20.0):
        if board not in BOARDS:
            raise FirmwareError(f"unknown board {board!r}; choose one of {', '.join(BOARDS)}")
        self.qemu = shutil.which("qemu-system-arm")
        if self.qemu is None:
            raise FirmwareError(f"qemu-system-arm not found; {APT_HINT}")
        self.elf, self.board, self.icount, self.start_timeout_s = Path(elf), board, icount, start_timeout_s
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> str:
        port = _free_port()
        cmd = [self.qemu, "-M", self.board, "-nographic", "-monitor", "none", "-kernel", str(self.elf),
               "-serial", f"tcp:127.0.0.1:{port},server=on,wait=off,nodelay=on"]
        if self.icount:
            cmd += ["-icount", "shift=0"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + self.start_timeout_s
        while True:  # wait for QEMU's listening socket
            if self.proc.poll() is not None:
                raise FirmwareError(f"qemu exited ({self.proc.returncode}): {self.proc.stderr.read().decode()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.__exit__()
                    raise FirmwareError(f"qemu did not open its serial port within {self.start_timeout_s} s")
                time.sleep(0.05)
        self.url = f"socket://127.0.0.1:{port}"
        return self.url

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stderr:
            self.proc.stderr.close()
