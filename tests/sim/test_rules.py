"""Task rules (roboloop.sim.rules): the sim tasks decide with them, and a robot gets the same ones."""
import gymnasium as gym
import numpy as np
import pytest

import roboloop.sim  # noqa: F401
from roboloop.sim.rules import FlagRules, PickCubeRules, ReachRules, named, task_rules


@pytest.mark.parametrize("task, kwargs", [("roboloop/Reach-v0", {"success_dist": 0.05, "reward_type": "dense"}),
                                          ("roboloop/PickCube-v0", {"lift_height": 0.08}),
                                          ("roboloop/PickCubeGap-v0", {"variant": "latency"})])
def test_a_robot_gets_the_rules_the_sim_task_runs(task, kwargs):
    sim = gym.make(task, **kwargs).unwrapped
    assert task_rules(task, {**kwargs, "control_hz": 20}) == sim.rules


@pytest.mark.parametrize("task, kwargs", [("roboloop/so101-Reach-v0", {}),
                                          ("roboloop/so101-PickCube-v0", {"lift_height": 0.04})])
def test_an_arm_task_gives_the_robot_its_arms_rules(task, kwargs):
    """The SO-101's Reach succeeds within its own distance, its PickCube lifts its own (smaller) cube."""
    env = gym.make(task, **kwargs)
    env.reset(seed=0)
    env.step(env.action_space.sample() * 0)
    assert task_rules(task, {**kwargs, "control_hz": 20}) == env.unwrapped.rules
    env.close()
    # The vision task's state has no cube: on the robot, flags decide it (as on roboloop's own arm).
    assert isinstance(task_rules("roboloop/arm-PickCubeVision-v0", {"arm": "panda"}), FlagRules)
    with pytest.raises(ValueError, match="needs the env option arm"):
        task_rules("roboloop/arm-Reach-v0", {})


def test_pick_cube_rules_over_the_named_state():
    env = gym.make("roboloop/PickCube-v0", reward_type="dense").unwrapped
    env.reset(seed=0)
    names = env.task_spec()["observation"]["state"]["names"]
    rules = task_rules("roboloop/PickCube-v0", {"reward_type": "dense"})
    s = named(names, env._state())
    assert rules.outcome(s, {}) == (False, False)
    assert rules.reward(s, False, {"is_grasped": False}) == pytest.approx(env._reward(False))
    lifted = {**s, "cube_z": s["cube_z"] + 0.06}
    off = {**s, "cube_x": 0.9}
    assert rules.outcome(lifted, {}) == (True, False) and rules.outcome(off, {}) == (False, True)
    with pytest.raises(ValueError, match="needs flags\\['is_grasped'\\]"):
        rules.reward(s, False, {})


def test_vision_is_decided_by_flags_and_rules_check_the_state_names():
    rules = task_rules("roboloop/PickCubeVision-v0")
    assert isinstance(rules, FlagRules)
    assert rules.outcome({}, {"is_success": True}) == (True, False) and rules.outcome({}, {}) == (False, False)
    with pytest.raises(ValueError, match="sparse reward only"):
        task_rules("roboloop/PickCubeVision-v0", {"reward_type": "dense"})
    with pytest.raises(ValueError, match="needs state entries \\['cube_x'"):
        PickCubeRules().check(["ee_x", "ee_y", "ee_z"])
    with pytest.raises(ValueError, match="no task rules for 'Pendulum-v1'"):
        task_rules("Pendulum-v1")
    assert ReachRules().outcome({"goal_minus_ee_x": 0.01, "goal_minus_ee_y": 0.0, "goal_minus_ee_z": 0.0}, {})[0]
    with pytest.raises(ValueError, match="state has 2 values for 3 names"):
        named(["a", "b", "c"], np.zeros(2))
