"""Helpers shared by the roboloop.sim tests (imported relatively, not via conftest)."""

import numpy as np

import roboloop.sim  # noqa: F401  (registers the task ids, sets MUJOCO_GL before mujoco loads)

TASK_IDS = ["roboloop/Reach-v0", "roboloop/PickCube-v0", "roboloop/PickCubeVision-v0"]

def run_expert(env, expert, seeds):
    """Run one expert episode per seed; return the success rate and the episode lengths."""
    successes, lengths = 0, []
    for seed in seeds:
        env.reset(seed=int(seed))
        expert.reset()
        for t in range(10_000):
            _, _, terminated, truncated, info = env.step(expert.act())
            if terminated or truncated:
                break
        successes += bool(info["is_success"])
        lengths.append(t + 1)
    return successes / len(seeds), np.array(lengths)
