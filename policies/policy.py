"""The one policy interface: whatever acts on an env implements `act(obs, deterministic) -> action`.

Implemented by the SAC agent and its `Actor` (policies/actor.py), by the transport's actors (which run
an `Actor` with the learner's newest weights), by the exported ONNX actor (`OnnxPolicy`) and by a
policy running on a microcontroller (`roboloop.hardware.mcu_bridge.MCUPolicy`). Evaluation, the actor
loops and the robot nodes take any of them.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Policy(Protocol):
    def act(self, obs: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        """One observation {"state": (D,) float32, "<camera>": (H, W, 3) uint8, ...} -> action (A,)
        float32 in [-1, 1] (the normalized action space). Exported policies hold only the mean action
        and return it whatever `deterministic` says."""
        ...
