"""A command counts as late when it reaches the robot after the tick that followed its observation."""
from roboloop_ros.driver_node import arrived_after_next_tick

PERIOD = 0.1
TICKS = [10.0, 10.1, 10.2, 10.3]   # tick start times, s


def test_a_command_before_the_next_tick_is_on_time():
    # observation of tick 10.1 (stamped on arrival at the actor, 10.104), command in at 10.19
    assert not arrived_after_next_tick(TICKS, 10.104, 10.19, PERIOD)


def test_a_command_after_the_next_tick_is_late():
    assert arrived_after_next_tick(TICKS, 10.104, 10.21, PERIOD)
    # p99 latency under the period does not make it on time: 20 ms latency from a late observation
    assert arrived_after_next_tick(TICKS, 10.195, 10.215, PERIOD)


def test_the_next_tick_not_yet_recorded_is_expected_one_period_on():
    assert not arrived_after_next_tick(TICKS, 10.31, 10.39, PERIOD)
    assert arrived_after_next_tick(TICKS, 10.31, 10.41, PERIOD)


def test_a_stamp_older_than_every_recorded_tick_is_late():
    assert arrived_after_next_tick(TICKS, 9.5, 10.05, PERIOD)
    assert arrived_after_next_tick([], 9.5, 9.51, PERIOD)
