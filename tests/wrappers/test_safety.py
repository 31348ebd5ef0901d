"""The safety envelope under attack: arbitrary, non-finite and huge commands, thousands of steps."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roboloop.envs import make_env
from roboloop.hardware.safety import SafetyEnvelope, SafetyLimits

LIMITS = SafetyLimits(box=[[0.25, -0.2, 0.45], [0.6, 0.2, 0.7]], max_speed=0.4, max_accel=2.0)
DT = 0.1
MAX_STEP = LIMITS.max_speed * DT * (1 + 1e-9)

anything = st.floats(allow_nan=True, allow_infinity=True, width=64)
huge = st.sampled_from([1e300, -1e300, 1e12, -1e12, np.nan, np.inf, -np.inf, 0.0])
number = st.one_of(anything, huge, st.floats(-2, 2))
command = st.tuples(number, number, number, number)


def in_box(p, limits=LIMITS):
    low, high = np.asarray(limits.box)
    return bool(np.all(p >= low) and np.all(p <= high))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(start=st.tuples(st.floats(-5, 5), st.floats(-5, 5), st.floats(-5, 5)),
       commands=st.lists(command, min_size=100, max_size=300))  # 60 x >= 100: thousands of steps
def test_targets_never_leave_the_box_nor_exceed_the_speed_limit(start, commands):
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array(start))
    prev = env.target.copy()
    assert in_box(prev)
    for *xyz, grip in commands:
        target, g, report = env.filter(np.array(xyz), grip)
        assert np.all(np.isfinite(target)) and in_box(target), (xyz, target)
        assert np.linalg.norm(target - prev) <= MAX_STEP, (xyz, prev, target)
        assert -1.0 <= g <= 1.0
        if not (np.all(np.isfinite(xyz)) and np.isfinite(grip)):
            assert report.clipped["non_finite"] and np.array_equal(target, prev), "non-finite must stop"
        prev = target


def test_counts_every_kind_of_clip():
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.4, 0.0, 0.5]))
    env.filter(np.array([0.4, 0.0, 0.5]), 0.0)
    env.filter(np.array([9.0, 0.0, 0.5]), 0.0)       # outside the box, and far: box + speed
    env.filter(np.array([0.25, 0.0, 0.5]), 0.0)       # full reverse: the acceleration limit
    env.filter(np.array([np.nan, 0.0, 0.5]), 0.0)     # stop
    env.filter(np.array([0.4, 0.0, 0.5]), 7.0)        # gripper out of range
    assert env.counts["non_finite"] == env.counts["box"] == env.counts["gripper"] == 1, env.counts
    assert env.counts["speed"] >= 1 and env.counts["accel"] >= 1, env.counts


def test_acceleration_is_limited_from_rest():
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.3, 0.0, 0.5]))
    target, _, report = env.filter(np.array([0.6, 0.0, 0.5]), 0.0)
    assert report.clipped["accel"]
    assert np.linalg.norm(target - [0.3, 0.0, 0.5]) == pytest.approx(LIMITS.max_accel * DT * DT)


@pytest.mark.parametrize("bad, match", [
    (dict(box=[[0, 0, 0], [1, 1]]), "box must be"),
    (dict(box=[[1, 0, 0], [0, 1, 1]]), "min above its max"),
    (dict(max_speed=-1.0), "max_speed must be a positive"),
    (dict(max_accel=float("nan")), "max_accel must be a positive"),
    (dict(gripper_force=0.0), "gripper_force must be positive"),
])
def test_bad_limits_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        SafetyLimits(**bad)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(commands=st.lists(command, min_size=100, max_size=200), seed=st.integers(0, 1000))
def test_the_simulated_arm_obeys_the_envelope(commands, seed):
    """Through the real MuJoCo task: the arm's commanded target stays in the box at the speed limit."""
    limits = dict(box=LIMITS.box, max_speed=LIMITS.max_speed, max_accel=LIMITS.max_accel, gripper_force=10.0)
    env = make_env("PickCube", {}, [{"type": "safety", **limits}])
    robot = env.unwrapped
    env.reset(seed=seed)
    assert robot.sim.model.actuator_forcerange[robot.sim.model.actuator("gripper").id][1] == 10.0
    prev = robot.commanded_target()
    for *xyz, grip in commands:
        action = np.array([*xyz, grip], dtype=np.float32)
        _, _, terminated, truncated, info = env.step(action)
        now = robot.commanded_target()
        assert np.all(np.isfinite(now)) and np.all(np.isfinite(robot.sim.data.qpos))
        # the sim's first target (home) may start outside a custom box; from then on it stays inside
        assert in_box(now) or np.linalg.norm(now - prev) <= MAX_STEP
        assert np.linalg.norm(now - prev) <= MAX_STEP, (action, prev, now)
        if not np.all(np.isfinite(action)):
            assert info["safety"]["stopped"] and np.array_equal(now, prev)
        prev = now
        if terminated or truncated:
            env.reset()
            prev = robot.commanded_target()
    env.close()
