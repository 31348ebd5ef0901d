"""Fixtures for roboloop.sim tests."""

import gymnasium as gym
import pytest

import roboloop.sim  # noqa: F401  (registers the task ids, sets MUJOCO_GL before mujoco loads)


@pytest.fixture
def make_env():
    """gym.make that closes every env it made at teardown."""
    envs = []

    def _make(task_id, **kwargs):
        env = gym.make(task_id, **kwargs)
        envs.append(env)
        return env

    yield _make
    for env in envs:
        env.close()
