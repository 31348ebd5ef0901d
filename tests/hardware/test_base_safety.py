"""BaseSafety, the mobile base's safety filter: speed and acceleration limits, the lidar stop (direction-aware),
no driving without a fresh scan, stops on malformed commands; and the pad's base mapping (sticks to v, w)."""
import math

import numpy as np
import pytest

from roboloop.hardware.base_safety import BaseSafety, BaseSafetyLimits
from roboloop.hardware.gamepad.joy import Joy, hold_action, load_map

ANGLES = np.linspace(0, 2 * np.pi, 36, endpoint=False)


def safety(**kw) -> BaseSafety:
    s = BaseSafety(BaseSafetyLimits(**kw), dt=0.1)
    s.update_scan(np.full(36, 3.0), ANGLES, now=0.0)
    return s


def test_speed_and_acceleration_limits_with_braking_exempt():
    s = safety(max_linear=0.5, max_angular=1.5, max_linear_accel=1.0, max_angular_accel=3.0)
    out = [s.filter(2.0, -4.0, now=0.01 * k)[:2] for k in range(7)]
    np.testing.assert_allclose([o[0] for o in out], [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5])
    np.testing.assert_allclose([o[1] for o in out], [-0.3, -0.6, -0.9, -1.2, -1.5, -1.5, -1.5])
    v, w, clipped = s.filter(0.0, -1.5, now=0.1)
    assert v == 0.0 and not clipped["accel"]           # stopping is never delayed
    assert s.filter(-0.4, -1.5, now=0.1)[0] == pytest.approx(-0.1)   # reversing is accelerating again


def test_lidar_stop_ahead_and_behind():
    s = safety(stop_distance=0.4, max_linear_accel=100.0, max_angular_accel=100.0)
    ranges = np.full(36, 3.0)
    ranges[2] = 0.3                                     # 20 degrees left of forward
    s.update_scan(ranges, ANGLES, now=1.0)
    v, w, clipped = s.filter(0.3, 0.5, now=1.0)
    assert (v, w) == (0.0, 0.5) and clipped["lidar_stop"]   # no forward motion; turning away stays allowed
    v, _, clipped = s.filter(-0.3, 0.0, now=1.0)
    assert v == pytest.approx(-0.3) and not clipped["lidar_stop"]   # backing away from it is fine
    ranges = np.full(36, 3.0)
    ranges[18] = 0.2                                    # right behind
    s.update_scan(ranges, ANGLES, now=1.0)
    assert s.filter(-0.3, 0.0, now=1.0)[0] == 0.0
    assert s.filter(0.3, 0.0, now=1.0)[0] == pytest.approx(0.3)
    ranges[18] = np.inf                                 # a missed return is free space
    s.update_scan(ranges, ANGLES, now=1.0)
    assert s.filter(-0.3, 0.0, now=1.0)[0] == pytest.approx(-0.3)


def test_no_fresh_scan_no_driving_and_malformed_commands_stop():
    s = safety(max_scan_age=0.5, max_linear_accel=100.0, max_angular_accel=100.0)
    assert s.filter(0.3, 0.2, now=0.4)[:2] == pytest.approx((0.3, 0.2))
    v, w, clipped = s.filter(0.3, 0.2, now=0.6)
    assert v == 0.0 and w == pytest.approx(0.2) and clipped["no_scan"]
    for bad in [(math.nan, 0.0), (0.1, math.inf), ("0.1", 0.0), (None, 0.0), (True, 0.0)]:
        s.update_scan(np.full(36, 3.0), ANGLES, now=1.0)
        s.filter(0.3, 0.3, now=1.0)
        v, w, clipped = s.filter(*bad, now=1.0)
        assert (v, w) == (0.0, 0.0) and clipped["non_finite"], bad
    assert s.counts["non_finite"] == 5
    with pytest.raises(ValueError, match="ranges for"):
        s.update_scan(np.ones(3), ANGLES, now=1.0)
    with pytest.raises(ValueError, match="stop_distance must be a positive"):
        BaseSafetyLimits(stop_distance=-1.0)


def test_pad_sticks_map_to_base_velocity():
    pad = load_map("xbox")          # left stick: up/down axis 1 (inverted), left/right axis 0 (inverted)
    axes = [0.0] * 6
    axes[1], axes[0] = -1.0, 0.55   # full forward, a little left
    cmd = pad.command(Joy(0.0, axes, [0, 0, 0, 0, 0, 1, 0, 0]), 2, -1.0)
    assert cmd.intervening and cmd.action.shape == (2,)
    assert cmd.action[0] == pytest.approx(1.0) and cmd.action[1] == pytest.approx(-0.5)
    np.testing.assert_array_equal(hold_action(2, 1.0), [0.0, 0.0])
    with pytest.raises(ValueError, match="2-dim base actions"):
        pad.command(Joy(0.0, axes, []), 3, -1.0)
