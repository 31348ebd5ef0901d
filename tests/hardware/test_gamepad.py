"""The real pygame gamepad code, driven by an SDL virtual joystick (pygame's bundled SDL2 via ctypes)."""
import numpy as np
import pytest

from roboloop.envs import make_env
from roboloop.hardware.gamepad import Teleop, load_map, make_teleop, shipped_maps
from roboloop.hardware.gamepad.pygame_pad import GamepadError, PygameGamepad
from roboloop.hardware.gamepad.virtual import VirtualGamepad, drive_pad
from roboloop.wrappers.intervention import InterventionWrapper

XBOX = load_map("xbox")
RB, A, B, START = 5, 0, 1, 7


@pytest.fixture
def pad():
    p = VirtualGamepad()
    yield p
    p.unplug()


def read(teleop, n=2):
    for _ in range(n):
        cmd = teleop.poll()
    return cmd


def test_sticks_and_triggers_map_to_the_right_action_dimensions(pad):
    teleop = make_teleop("gamepad", 5, "xbox")
    assert not read(teleop).intervening
    cases = [((1, -1.0), 0, 1.0),    # left stick up -> +x
             ((0, -1.0), 1, 1.0),    # left stick left -> +y
             ((4, 1.0), 2, -1.0),    # right stick down -> -z
             ((3, -0.55), 3, 0.5)]   # right stick half left -> +yaw, rescaled past the deadzone
    for (axis, value), dim, expected in cases:
        pad.set_axis(axis, value)
        cmd = read(teleop)
        assert cmd.action[dim] == pytest.approx(expected, abs=1e-3), (axis, cmd.action)
        assert np.count_nonzero(cmd.action[:4]) == 1
        pad.set_axis(axis, 0.0)
    pad.set_axis(3, 0.05)  # inside the deadzone
    assert read(teleop).action[3] == 0.0
    pad.set_axis(5, 1.0)   # right trigger: close
    assert read(teleop).action[-1] == 1.0
    pad.set_axis(5, -1.0)  # released: the gripper stays closed
    assert read(teleop).action[-1] == 1.0
    pad.set_axis(2, 1.0)   # left trigger: open
    assert read(teleop).action[-1] == -1.0


def test_a_scripted_person_drives_a_base_through_the_pad(pad):
    """drive_pad with a base's [v, w]: the left stick, read back by the real pad code as the same [v, w]."""
    teleop = make_teleop("gamepad", 2, "xbox")
    for action in ([0.6, -0.4], [-0.25, 1.0], [0.0, 0.0]):
        drive_pad(pad, action, XBOX)
        cmd = read(teleop)
        assert cmd.intervening
        np.testing.assert_allclose(cmd.action, action, atol=1e-3)
    drive_pad(pad, [1.0, 0.0], XBOX, deadman=False)
    assert not read(teleop).intervening


def test_the_deadman_starts_and_ends_an_intervention(pad):
    env = InterventionWrapper(make_env("PickCube"), make_teleop("gamepad", 4, "xbox"))
    env.reset(seed=0)
    policy = np.array([0, 0, -1, -1], np.float32)  # the policy pushes down
    _, _, _, _, info = env.step(policy)
    assert "intervention" not in info
    z = env.unwrapped.sim.target_pos[2]
    drive_pad(pad, [0, 0, 1, -1], XBOX)             # the person holds RB and pushes up
    _, _, _, _, info = env.step(policy)
    np.testing.assert_allclose(info["intervention"], [0, 0, 1, -1], atol=1e-3)
    assert env.unwrapped.sim.target_pos[2] > z + 0.04
    pad.set_button(RB, False)                       # released: back to the policy on the next step
    z = env.unwrapped.sim.target_pos[2]
    _, _, _, _, info = env.step(policy)
    assert "intervention" not in info and env.unwrapped.sim.target_pos[2] < z
    assert info["intervention_rate"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("button, success", [(A, True), (B, False)])
def test_success_and_failure_buttons_end_the_episode(pad, button, success):
    env = InterventionWrapper(make_env("Reach"), make_teleop("gamepad", 4, "xbox"))
    env.reset(seed=0)
    env.step(np.zeros(4, np.float32))
    pad.set_button(button, True)
    _, reward, terminated, truncated, info = env.step(np.zeros(4, np.float32))
    assert terminated and not truncated and reward == float(success) and info["is_success"] is success
    _, _, terminated, _, _ = env.step(np.zeros(4, np.float32))  # still held: fires once per press
    assert not terminated
    pad.set_button(button, False)
    pad.set_button(START, True)
    _, _, terminated, truncated, _ = env.step(np.zeros(4, np.float32))
    assert truncated and not terminated


def test_unplugging_mid_intervention_holds_the_robot_and_the_run_goes_on(pad):
    env = InterventionWrapper(make_env("PickCube"), make_teleop("gamepad", 4, "xbox"))
    env.reset(seed=0)
    drive_pad(pad, [1, 0, 0, 1], XBOX)  # moving forward with the gripper closed
    _, _, _, _, info = env.step(np.zeros(4, np.float32))
    assert "intervention" in info
    pad.unplug()
    target = env.unwrapped.commanded_target()
    for _ in range(3):  # the policy wants to move; the robot holds still, gripper still closed
        _, _, _, _, info = env.step(np.array([1, 1, 1, -1], np.float32))
        assert "intervention" not in info and info["teleop_disconnected"]
        np.testing.assert_array_equal(env.unwrapped.commanded_target(), target)
    assert env.unwrapped.sim.gripper_target == 0.0  # closed (0 m opening target) as the person left it


def test_a_missing_pad_is_a_clear_error():
    with pytest.raises(GamepadError, match="no gamepad found.*--input keyboard"):
        PygameGamepad(index=3)


def test_keyboard_fallback_through_pygame_events():
    import pygame
    teleop = make_teleop("keyboard", 4)
    for key in (pygame.K_SPACE, pygame.K_w, pygame.K_g):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    cmd = teleop.poll()
    assert cmd.intervening and cmd.action[0] == 1.0 and cmd.action[-1] == 1.0
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_w))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    cmd = teleop.poll()
    assert not cmd.intervening and cmd.action[0] == 0.0


def test_maps_ship_and_custom_maps_are_checked(tmp_path):
    assert {"xbox", "playstation", "logitech_f310", "logitech_f710"} <= set(shipped_maps())
    for name in shipped_maps():
        assert "deadman" in load_map(name).buttons
    custom = tmp_path / "mine.yaml"
    custom.write_text("name: mine\naxes: {x: 2, wobble: 3}\nbuttons: {deadman: 1}\n")
    with pytest.raises(ValueError, match="unknown axis role 'wobble'"):
        load_map(str(custom))
    custom.write_text("axes: {x: {index: 2, invert: true}}\nbuttons: {success: 1}\n")
    with pytest.raises(ValueError, match="'deadman' button is required"):
        load_map(str(custom))
    with pytest.raises(ValueError, match="unknown pad map 'gamecube'"):
        load_map("gamecube")


def test_nan_from_a_broken_driver_is_no_motion():
    class Broken:
        def poll(self):
            from roboloop.hardware.gamepad import Joy
            return Joy(0.0, [float("nan")] * 6, [0, 0, 0, 0, 0, 1])

    cmd = Teleop(Broken(), XBOX, 4).poll()
    assert cmd.intervening and np.all(np.isfinite(cmd.action)) and not np.any(cmd.action[:3])
