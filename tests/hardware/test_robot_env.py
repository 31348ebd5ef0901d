"""RobotEnv over the real SimRobotDriver in-process (no ROS): the robot path decides episodes with the
sim task's own rules, the person's buttons end them, the shaping wrappers wrap it and sim-only ones
refuse it, and bad observations stop the robot with an error that names them."""
import gymnasium as gym
import numpy as np
import pytest

import roboloop.sim  # noqa: F401  (registers the tasks)
from roboloop.hardware.gamepad.joy import TeleopCommand
from roboloop.hardware.robot_env import ObservationSource, RobotEnv, RobotFault
from roboloop.hardware.sim_robot import sim_robot_env
from roboloop.sim.experts import expert_from_state
from roboloop.sim.rules import task_rules
from roboloop.wrappers import build_wrappers
from roboloop.wrappers.intervention import InterventionWrapper


def run_expert(env, steps: int = 80):
    """The PickCube expert acting on the observed state only; returns (rewards, terminated, truncated, info)."""
    expert, view = expert_from_state(0.05, 0.25, False)
    obs, info = env.reset(seed=1)
    rewards = []
    for _ in range(steps):
        view.update(obs["state"])
        obs, r, term, trunc, info = env.step(expert.act())
        rewards.append(r)
        if term or trunc:
            break
    return rewards, term, trunc, info


def test_the_expert_succeeds_through_robot_env_as_in_sim():
    robot = sim_robot_env("PickCube", seed=None)
    rewards, term, trunc, info = run_expert(robot)
    assert term and not trunc and info["is_success"] and rewards[-1] == 1.0 and sum(rewards) == 1.0
    # The same episode in the sim task: the same outcome on the same step (velocity <-> action is exact).
    sim = gym.make("roboloop/PickCube-v0")
    sim_rewards, sim_term, _, sim_info = run_expert(sim)
    assert sim_term and sim_info["is_success"] and len(sim_rewards) == len(rewards)
    # The driver really moved at the spec's velocity: one action of 1.0 is max_delta_pos per tick.
    assert robot.driver.max_linear_speed == pytest.approx(0.05 * 10)


def test_a_knocked_off_cube_terminates_the_episode_as_a_failure():
    robot = sim_robot_env("PickCube", seed=None)
    robot.reset(seed=2)
    robot.driver.push_cube([4.0, 0.0, 0.0])   # m/s: it slides off the far edge of the table
    for t in range(30):
        _, r, term, trunc, info = robot.step(np.array([0, 0, 0, -1], np.float32))
        if term:
            break
    assert term and not trunc and info["is_failure"] and not info["is_success"] and r == 0.0
    assert robot.driver.sim.cube_pos()[0] > 0.75


class Buttons:
    """A person who presses success on step `press` (the InterventionWrapper's teleop interface)."""

    def __init__(self, press: int):
        self.press, self.n = press, 0

    def reset(self):
        self.n = 0

    def poll(self):
        self.n += 1
        return TeleopCommand(False, np.zeros(4, np.float32), success=self.n == self.press)


def test_the_persons_success_button_ends_the_robot_episode_with_reward_1():
    env = InterventionWrapper(sim_robot_env("PickCube", seed=None), Buttons(press=3))
    env.reset(seed=0)
    outcomes = [env.step(np.zeros(4, np.float32)) for _ in range(3)]
    assert [o[2] for o in outcomes] == [False, False, True] and [o[1] for o in outcomes] == [0.0, 0.0, 1.0]
    assert outcomes[-1][4]["is_success"] and outcomes[-1][4]["human_label"] == "success"


def test_history_and_relative_frame_wrap_the_robot_env_as_they_wrap_the_sim():
    stack = [{"type": "history", "length": 2}, {"type": "relative_frame"}, {"type": "safety"}]
    robot = build_wrappers(sim_robot_env("PickCube", seed=None), stack, training=False)
    sim = build_wrappers(gym.make("roboloop/PickCube-v0"), stack, training=False)
    assert robot.observation_space == sim.observation_space and robot.observation_space["state"].shape == (26,)
    ro, _ = robot.reset(seed=4)
    so, _ = sim.reset(seed=4)
    np.testing.assert_allclose(ro["state"], so["state"], atol=1e-6)   # relative to the same home pose
    for _ in range(5):
        ro, *_ = robot.step(np.array([0.5, 0.2, -0.5, -1], np.float32))
        so, *_ = sim.step(np.array([0.5, 0.2, -0.5, -1], np.float32))
    np.testing.assert_allclose(ro["state"], so["state"], atol=2e-3)


def test_sim_only_wrappers_refuse_the_robot():
    with pytest.raises(ValueError, match="domain randomization needs a MuJoCo arm task"):
        build_wrappers(sim_robot_env("PickCube", seed=None), [{"type": "domain_randomization"}])
    with pytest.raises(ValueError, match="control_jitter needs a MuJoCo arm task"):
        build_wrappers(sim_robot_env("PickCube", seed=None), [{"type": "control_jitter"}])


class Feed(ObservationSource):
    """Observations the test hands in, to check what RobotEnv makes of bad ones."""

    def __init__(self):
        self.queue = []

    def next(self, timeout_s):
        return self.queue.pop(0) if self.queue else None


@pytest.mark.parametrize("bad, action, message", [
    ({"state": np.zeros(5, np.float32)}, 1.0, r"state: got shape \(5,\), the policy expects \(13,\)"),
    ({"state": np.full(13, np.nan, np.float32)}, 1.0, "state: non-finite values"),
    (None, 1.0, "no fresh state for 0.05 s"),
    (None, np.nan, "non-finite action"),
])
def test_bad_input_stops_the_robot_and_names_the_problem(bad, action, message):
    import time
    robot = sim_robot_env("PickCube", seed=None)
    feed = Feed()
    env = RobotEnv(robot.task_spec(), robot.driver, feed, task_rules("roboloop/PickCube-v0"), obs_timeout_s=0.05)
    feed.queue.append({"state": (robot.driver.observation["state"], time.monotonic())})
    env.reset()
    env.driver.command_velocity([0.1, 0.0, 0.0])
    if bad is not None:
        feed.queue.append({k: (v, time.monotonic()) for k, v in bad.items()})
    with pytest.raises(RobotFault, match=message):
        env.step(np.array([action, 0, 0, -1], np.float32))
    assert env.driver.command.mode == "velocity" and not np.any(env.driver.command.linear), "the robot was not stopped"


def test_reset_drives_home_and_can_wait_for_the_operator():
    from roboloop.hardware.robot_env import wait_for_operator
    from roboloop.hardware.sim_robot import SimRobotDriver, SimRobotObservations
    driver = SimRobotDriver("PickCube", seed=0)
    asked = []
    env = RobotEnv(driver.base.task_spec(), driver, SimRobotObservations(driver), task_rules("roboloop/PickCube-v0"),
                   reset=wait_for_operator(read=asked.append), home=(0.40, 0.05, 0.60))
    obs, _ = env.reset()
    assert asked == ["reset the scene, then press Enter: "]
    assert np.linalg.norm(obs["state"][:3] - [0.40, 0.05, 0.60]) <= 0.01
    assert not np.any(driver.command.linear) and driver.command.mode == "velocity"   # stopped there
