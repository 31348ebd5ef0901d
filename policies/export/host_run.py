"""Compile generated C with the host's gcc into a shared library and call `<name>_step` through ctypes.

Used to check the generated C against onnxruntime before it goes anywhere near a microcontroller.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from roboloop.policies.export.onnx_export import ExportError

# -ffp-contract=off: no FMA contraction, so host and Cortex-M round every product the same way.
HOST_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off", "-fPIC", "-shared"]


class HostPolicy:
    """A generated policy compiled for this machine. __call__(obs (N, D) float32) -> (actions (N, A), codes (N,))."""

    def __init__(self, c_file: str | Path, name: str = "policy", cc: str = "gcc"):
        c_file = Path(c_file)
        if shutil.which(cc) is None:
            raise ExportError(f"no C compiler {cc!r} on PATH (apt-get install gcc)")
        self.lib_path = c_file.with_suffix(".so")
        cmd = [cc, *HOST_CFLAGS, "-o", str(self.lib_path), str(c_file)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise ExportError(f"{' '.join(cmd)} failed:\n{res.stderr}")
        self.lib = ctypes.CDLL(str(self.lib_path))
        self._step = getattr(self.lib, f"{name}_step")
        self._step.restype = ctypes.c_int
        self._step.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_float)]
        header = c_file.with_suffix(".h").read_text()
        self.obs_dim = _define(header, f"{name.upper()}_OBS_DIM")
        self.act_dim = _define(header, f"{name.upper()}_ACT_DIM")

    def __call__(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        obs = np.ascontiguousarray(np.atleast_2d(obs), dtype=np.float32)
        if obs.shape[1] != self.obs_dim:
            raise ValueError(f"observation has {obs.shape[1]} values, the policy takes {self.obs_dim}")
        act = np.zeros((len(obs), self.act_dim), np.float32)
        codes = np.zeros(len(obs), np.int32)
        fp = ctypes.POINTER(ctypes.c_float)
        for i in range(len(obs)):
            codes[i] = self._step(obs[i].ctypes.data_as(fp), act[i].ctypes.data_as(fp))
        return act, codes


def _define(header: str, key: str) -> int:
    for line in header.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "#define" and parts[1] == key:
            return int(parts[2])
    raise ExportError(f"generated header has no {key}")
