"""The one actor loop (roboloop.policies.actor_loop) over the robot path in-process: RobotEnv on the real
SimRobotDriver with the InterventionWrapper, transitions to a sink, faults cut the chain."""
import numpy as np

from roboloop.hardware.gamepad.joy import TeleopCommand
from roboloop.hardware.sim_robot import sim_robot_env
from roboloop.policies.actor_loop import ActorLoop
from roboloop.wrappers.intervention import InterventionWrapper


class Person:
    """Drives steps 2-3 of each episode (action +x), presses success on step 4."""

    def __init__(self):
        self.n = 0

    def reset(self):
        self.n = 0

    def poll(self):
        self.n += 1
        return TeleopCommand(self.n in (2, 3), np.array([1, 0, 0, -1], np.float32), success=self.n == 4)


def test_transitions_carry_the_persons_actions_and_their_success_button():
    env = InterventionWrapper(sim_robot_env("PickCube"), Person())
    got = []
    loop = ActorLoop(env, lambda obs, det: np.zeros(4, np.float32), lambda tr, ep: got.append((tr, ep)), seed=0)
    loop.run(steps=8)
    assert loop.steps == 8 and loop.episodes == 2 and loop.person_steps == 4
    first = [tr for tr, _ in got[:4]]
    assert [tr.intervened for tr in first] == [False, True, True, False]
    np.testing.assert_array_equal(first[1].action, [1, 0, 0, -1])        # the executed (person's) action
    assert [tr.reward for tr in first] == [0, 0, 0, 1] and first[3].terminated and not first[3].truncated
    assert got[3][1] == {"return": 1.0, "success": True}
    # consecutive transitions chain: each next_obs is the following obs (within the episode)
    np.testing.assert_array_equal(first[0].next_obs["state"], first[1].obs["state"])


def test_a_robot_fault_is_reported_and_starts_a_new_episode():
    env = sim_robot_env("PickCube")
    faults, got = [], []
    actions = iter([np.zeros(4), np.full(4, np.nan)] + [np.zeros(4)] * 10)
    loop = ActorLoop(env, lambda obs, det: next(actions), lambda tr, ep: got.append(tr),
                     on_fault=lambda lp, why: faults.append(why), fault_pause_s=0.0)
    loop.run(steps=3)
    assert faults == ["non-finite action [nan, nan, nan, nan]"] and loop.faults == 1
    assert len(got) == 3 and loop.t == 2   # one step, the fault, then a fresh episode of two steps
