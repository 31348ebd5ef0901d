"""Build the policy firmware (hardware/firmware/) for a Cortex-M board with arm-none-eabi-gcc, and measure
its size with arm-none-eabi-size.

Boards (verified against QEMU 7.2's machine models):
    mps2-an386     ARM MPS2 + AN386 FPGA image, Cortex-M4F; CMSDK APB UART0 at 0x40004000
    netduinoplus2  STM32F405RG (the Crazyflie 2.x MCU), Cortex-M4F; USART1 at 0x40011000
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FIRMWARE_DIR = Path(__file__).parent / "firmware"
CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# -ffp-contract=off matches the host build bit for bit (see policies/export/c_codegen.py).
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-ffp-contract=off", "-ffreestanding",
          "-ffunction-sections", "-fdata-sections"]
BOARDS = {
    "mps2-an386": {"uart": "uart_cmsdk.c", "ld": "mps2_an386.ld"},
    "netduinoplus2": {"uart": "uart_stm32f4.c", "ld": "netduinoplus2.ld"},
}
APT_HINT = "apt-get install -y gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm (or `make install`)"


class FirmwareError(RuntimeError):
    """The toolchain is missing, or the firmware failed to build."""


@dataclass
class Size:
    """arm-none-eabi-size (Berkeley) of an object or image: flash = text + data, RAM = data + bss."""
    text: int
    data: int
    bss: int

    @property
    def flash(self) -> int:
        return self.text + self.data

    @property
    def ram(self) -> int:
        return self.data + self.bss


@dataclass
class Firmware:
    elf: Path
    board: str
    policy_size: Size      # the generated policy alone (policy.o)
    image_size: Size       # the whole firmware


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FirmwareError(f"{name} not found; install the Cortex-M toolchain: {APT_HINT}")
    return path


def _run(cmd: list[str]) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise FirmwareError(f"{' '.join(cmd)} failed:\n{res.stderr[-4000:]}")
    return res.stdout


def object_size(path: str | Path) -> Size:
    out = _run([_tool("arm-none-eabi-size"), "-B", str(path)]).splitlines()[1].split()
    return Size(int(out[0]), int(out[1]), int(out[2]))


def compile_policy(policy_c: str | Path, out_dir: str | Path) -> Path:
    """policy.c -> policy.o for Cortex-M4F (what a user links into their own firmware)."""
    policy_c, out_dir = Path(policy_c), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = out_dir / (policy_c.stem + ".o")
    _run([_tool("arm-none-eabi-gcc"), *CPU_FLAGS, *CFLAGS, "-c", str(policy_c), "-o", str(obj)])
    return obj


def build_firmware(policy_c: str | Path, board: str, out_dir: str | Path) -> Firmware:
    """Link the generated policy (policy.c + policy.h beside it) into the UART firmware for `board`."""
    if board not in BOARDS:
        raise FirmwareError(f"unknown board {board!r}; choose one of {', '.join(BOARDS)}")
    policy_c, out_dir = Path(policy_c), Path(out_dir)
    if policy_c.stem != "policy":
        raise FirmwareError(f"the firmware calls policy_step(); export with --name policy (got {policy_c.name})")
    out_dir.mkdir(parents=True, exist_ok=True)
    obj = compile_policy(policy_c, out_dir)
    gcc = _tool("arm-none-eabi-gcc")
    elf = out_dir / f"firmware-{board}.elf"
    sources = [FIRMWARE_DIR / n for n in ("main.c", "protocol.c", "startup.c", BOARDS[board]["uart"])]
    _run([gcc, *CPU_FLAGS, *CFLAGS, "-I", str(policy_c.parent), "-I", str(FIRMWARE_DIR), *map(str, sources),
          str(obj), "-nostdlib", "-Wl,--gc-sections", "-L", str(FIRMWARE_DIR),
          "-T", str(FIRMWARE_DIR / BOARDS[board]["ld"]), "-lgcc", "-o", str(elf)])
    return Firmware(elf, board, object_size(obj), object_size(elf))
