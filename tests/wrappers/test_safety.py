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


# The wrapper hands the sim a float32 delta action; the target it reaches differs from the envelope's
# float64 one by rounding only (1e-9 m here). The tolerances below allow that, and nothing more.
ROUNDING = 1e-7                                         # m
MAX_DSTEP = LIMITS.max_accel * DT * DT * (1 + 1e-6)     # m: |step_k - step_k-1| at the acceleration limit


def _sim_with_envelope():
    limits = dict(box=LIMITS.box, max_speed=LIMITS.max_speed, max_accel=LIMITS.max_accel, gripper_force=10.0)
    env = make_env("PickCube", {}, [{"type": "safety", **limits}])
    assert env.unwrapped.control_hz == 1.0 / DT
    return env, env.unwrapped


def _check_envelope(env, robot, actions, seed):
    """Steps `actions` through the wrapped MuJoCo task and asserts each limit on the commanded target
    separately: the box, the speed and the acceleration (a stop may brake harder: it halts at once).
    Returns how often each limit was the active constraint."""
    low, high = (np.asarray(b) for b in LIMITS.box)
    env.reset(seed=seed)
    prev = robot.commanded_target()
    assert in_box(prev), "home lies inside the test box"
    prev_step = np.zeros(3)
    clipped = {"box": 0, "speed": 0, "accel": 0}
    for action in actions:
        action = np.asarray(action, dtype=np.float32)   # 1e300 becomes inf here: a stop
        _, _, terminated, truncated, info = env.step(action)
        now = robot.commanded_target()
        assert np.all(np.isfinite(now)) and np.all(np.isfinite(robot.sim.data.qpos))
        assert np.all(now >= low - ROUNDING) and np.all(now <= high + ROUNDING), (action, now)
        step = now - prev
        assert np.linalg.norm(step) <= MAX_STEP + ROUNDING, (action, prev, now)
        if info["safety"]["stopped"]:
            assert np.array_equal(now, prev) and not np.all(np.isfinite(action))
        else:
            assert np.linalg.norm(step - prev_step) <= MAX_DSTEP + ROUNDING, (action, prev_step, step)
        for k in clipped:
            clipped[k] += info["safety"]["clipped"][k]
        prev, prev_step = now, step
        if terminated or truncated:
            env.reset()
            prev, prev_step = robot.commanded_target(), np.zeros(3)
    return clipped


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(commands=st.lists(command, min_size=100, max_size=200), seed=st.integers(0, 1000))
def test_the_simulated_arm_obeys_the_envelope(commands, seed):
    """Through the real MuJoCo task: the arm's commanded target stays in the box, under the speed limit
    and under the acceleration limit, for arbitrary commands."""
    env, robot = _sim_with_envelope()
    assert robot.sim.model.actuator_forcerange[robot.sim.model.actuator("gripper").id][1] == 10.0
    _check_envelope(env, robot, [np.array(c, dtype=np.float64) for c in commands], seed)
    env.close()


def test_the_simulated_arm_is_held_at_the_walls_and_accelerates_gently():
    """Full-scale pushes into every wall (the sim's own workspace reaches past the box on every side, so
    only the envelope holds the arm in) and full reversals: each limit is the active one, and holds."""
    env, robot = _sim_with_envelope()
    assert np.all(robot.sim.workspace[0] < LIMITS.box[0]) and np.all(robot.sim.workspace[1] > LIMITS.box[1])
    actions = []
    for axis in range(3):
        for sign in (1.0, -1.0):
            push = np.zeros(4)
            push[axis], push[3] = sign, -1.0
            actions += [push] * 15
    clipped = _check_envelope(env, robot, actions, seed=0)
    assert all(v > 0 for v in clipped.values()), clipped
    low, high = (np.asarray(b) for b in LIMITS.box)
    # the last push (-z for 15 steps) ends resting on the floor of the box
    assert robot.commanded_target()[2] == pytest.approx(low[2], abs=1e-6)
    env.close()


def test_the_safety_wrapper_in_sim_is_the_safety_nodes_envelope_on_the_robot():
    """A policy trained with `wrappers: [{type: safety}]` meets the same limits on the robot: the safety
    node's arm defaults are the wrapper's SafetyLimits defaults."""
    from pathlib import Path

    from roboloop.docgen import node_params

    node = Path(__file__).parents[2] / "ros2_ws/src/roboloop_ros/roboloop_ros/safety_node.py"
    declared = {name: default for name, default, _ in node_params(node)}
    wrapper = SafetyLimits()
    assert [declared["box_min"], declared["box_max"]] == wrapper.box
    assert (declared["max_speed"], declared["max_accel"]) == (wrapper.max_speed, wrapper.max_accel)


def test_the_demos_envelope_leaves_every_command_of_the_action_range_as_it_is():
    """`make demo` runs the safety node with an envelope around PickCube's action range: full-scale commands
    and full reversals pass unchanged, where the launch file's defaults (0.5 m/s, 3 m/s^2) change them."""
    from roboloop.demo import envelope_around
    from roboloop.envs import env_spec

    spec = env_spec(make_env("PickCube"))
    speed, accel = envelope_around(spec)
    hz, step = spec["control_hz"], spec["action"]["max_delta_pos_m"]
    rng = np.random.default_rng(0)
    actions = np.concatenate([rng.choice([-1.0, 1.0], size=(200, 3)), rng.uniform(-1, 1, size=(200, 3))])
    far = [[-1e3] * 3, [1e3] * 3]   # the box is not what is tested here

    def changed(limits):
        envelope = SafetyEnvelope(limits, 1.0 / hz)
        envelope.reset(np.zeros(3))
        n = 0
        for a in actions:
            before = envelope.target
            target, _, _ = envelope.filter(before + a * step, -1.0)
            n += int(not np.allclose(target - before, a * step, atol=1e-9))
        return n

    assert changed(SafetyLimits(box=far, max_speed=speed, max_accel=accel)) == 0
    assert changed(SafetyLimits(box=far)) > len(actions) // 2
