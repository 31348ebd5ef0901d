"""The safety envelope keeps every limit it documents in every corner: on a wall, in a corner, for an
astronomically large box, and for commands of the wrong type."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roboloop.hardware.safety import SafetyEnvelope, SafetyLimits

LIMITS = SafetyLimits(box=[[0.25, -0.2, 0.45], [0.6, 0.2, 0.7]], max_speed=0.4, max_accel=2.0)
DT = 0.1
LOW, HIGH = np.asarray(LIMITS.box)
WALLS = st.sampled_from([*LOW, *HIGH, 1e9, -1e9])   # targets on (and far behind) the walls
coord = st.one_of(st.floats(-1, 1), WALLS)


def check_step(prev_t, prev_v, target, limits=LIMITS, dt=DT, report=None):
    low, high = np.asarray(limits.box)
    v = (target - prev_t) / dt
    assert np.all(np.isfinite(target)) and np.all(target >= low) and np.all(target <= high), target
    assert np.linalg.norm(v) <= limits.max_speed * (1 + 1e-9), v
    assert np.linalg.norm(v - prev_v) <= limits.max_accel * dt * (1 + 1e-9), (prev_v, v)
    return v


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.large_base_example])
@given(start=st.tuples(st.floats(0.25, 0.6), st.floats(-0.2, 0.2), st.floats(0.45, 0.7)),
       commands=st.lists(st.tuples(coord, coord, coord), min_size=20, max_size=120))
def test_box_speed_and_acceleration_hold_together_when_the_target_sits_on_a_wall(start, commands):
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array(start))
    prev_t, prev_v = env.target, np.zeros(3)
    for xyz in commands:
        target, _, report = env.filter(np.array(xyz), 0.0)
        prev_v = check_step(prev_t, prev_v, target)
        assert not report.clipped["accel_overridden"]
        np.testing.assert_allclose(env.velocity, prev_v, atol=1e-12)
        prev_t = target
    assert env.counts["accel_overridden"] == 0


def test_full_speed_into_a_wall_brakes_within_the_acceleration_limit():
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.3, 0.0, 0.5]))
    prev_t, prev_v = env.target, np.zeros(3)
    braked = False
    for _ in range(60):   # drive at the +x wall and sit on it
        target, _, report = env.filter(np.array([5.0, 0.0, 0.5]), 0.0)
        prev_v = check_step(prev_t, prev_v, target)
        braked |= report.clipped["brake"]
        prev_t = target
    assert braked and target[0] == pytest.approx(0.6, abs=0.01) and np.linalg.norm(prev_v) < 1e-3


def test_a_box_of_1e308_gives_finite_targets():
    big = SafetyLimits(box=[[-1e308] * 3, [1e308] * 3], max_speed=0.5, max_accel=3.0)
    env = SafetyEnvelope(big, 0.1)
    env.reset(np.zeros(3))
    prev_t, prev_v = env.target, np.zeros(3)
    for cmd in ([1e308, -1e308, 1e308], [-1e308, 1e308, 0.0], [1.0, 2.0, 3.0], [1.7e308, 0, 0]):
        target, _, _ = env.filter(np.array(cmd), 0.0)
        prev_v = check_step(prev_t, prev_v, target, big, 0.1)
        prev_t = target
    env.reset(np.array([1e308, -1e308, 0.0]))   # at the far corner, asked to the opposite one
    prev_t, prev_v = env.target, np.zeros(3)
    for _ in range(5):
        target, _, _ = env.filter(np.array([-1e308, 1e308, 0.0]), 0.0)
        prev_v = check_step(prev_t, prev_v, target, big, 0.1)
        prev_t = target


@pytest.mark.parametrize("gripper", ["close", None, [1.0, 2.0], {"g": 1}, b"\x00", float("nan"), True])
def test_a_gripper_command_of_the_wrong_type_stops_instead_of_raising(gripper):
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.4, 0.0, 0.5]), gripper=0.5)
    env.filter(np.array([0.45, 0.0, 0.5]), 0.0)
    held = env.target
    target, g, report = env.filter(np.array([0.5, 0.0, 0.5]), gripper)
    assert report.clipped["non_finite"] and np.array_equal(target, held) and g == 0.0
    assert np.array_equal(env.velocity, np.zeros(3))


@pytest.mark.parametrize("target", ["abc", [1.0, 2.0], [[0.4, 0.0, 0.5, 1.0]], None, ["0.4", "0", "0.5"]])
def test_a_target_of_the_wrong_type_or_shape_stops(target):
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.4, 0.0, 0.5]))
    out, _, report = env.filter(target, 0.0)
    assert report.clipped["non_finite"] and np.array_equal(out, [0.4, 0.0, 0.5])


def test_anchoring_where_braking_is_impossible_keeps_the_box_and_reports_it():
    """The one documented give-up: re-anchored next to a wall at full speed, the box wins."""
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.25, 0.0, 0.5]))
    for _ in range(3):
        env.filter(np.array([0.6, 0.0, 0.5]), 0.0)
    assert env.velocity[0] > 0.3
    env.anchor(np.array([0.6, 0.0, 0.5]))      # the robot says it is on the wall already
    target, _, report = env.filter(np.array([5.0, 0.0, 0.5]), 0.0)
    assert report.clipped["accel_overridden"] and env.counts["accel_overridden"] == 1
    assert target[0] <= 0.6 and np.linalg.norm(env.velocity) <= LIMITS.max_speed


def test_the_public_state_cannot_be_overwritten():
    env = SafetyEnvelope(LIMITS, DT)
    env.reset(np.array([0.4, 0.0, 0.5]))
    env.target[0] = 99.0                          # a copy: the envelope's state is untouched
    env.counts["box"] = 99
    assert env.target[0] == 0.4 and env.counts["box"] == 0
    with pytest.raises(AttributeError):
        env.target = np.zeros(3)
    low, high = env.box
    assert np.array_equal(low, LOW) and np.array_equal(high, HIGH)
    assert math.isclose(env.gripper, -1.0)
