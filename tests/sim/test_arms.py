"""Arms built from their descriptions: kinematics against Pinocchio, IK, scenes, tasks and experts.

The descriptions come from example-robot-data (the `arms` extra, which `make install` installs); Pinocchio
(`pin`, in the dev extra) is the independent kinematics. Without them these tests skip locally and fail
under CI=true.
"""
import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

from roboloop.sim import make_expert
from roboloop.sim.arms import DescribedArmSim, load_arm, shipped_arms
from roboloop.sim.description import DescriptionError, RobotDescription, package_dir, read_description
from roboloop.sim.kinematics import RobotModel
from roboloop.sim.robot import TABLE_Z

ARMS = ("so101", "panda", "ur5")


def _need(what: str, ok: bool) -> None:
    if not ok:
        msg = f"{what} is not installed (pip install -c constraints.txt -e '.[dev,arms]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; CI installs it (make install)")
        pytest.skip(msg)


def _have_robot_data() -> bool:
    try:
        package_dir("example-robot-data")
        return True
    except DescriptionError:
        return False


@pytest.fixture(autouse=True)
def robot_data():
    _need("example-robot-data", _have_robot_data())


@pytest.fixture(scope="module")
def pin():
    try:
        import pinocchio
    except ImportError:
        pinocchio = None
    _need("pin (Pinocchio)", pinocchio is not None)
    return pinocchio


def test_the_three_arms_ship():
    assert set(ARMS) <= set(shipped_arms())


def _pin_fk(pin, pmodel, pdata, desc, q):
    qp = pin.neutral(pmodel)
    for name, v in zip(desc.arm_joints, q):
        j = pmodel.joints[pmodel.getJointId(name)]
        if j.nq == 2:  # continuous joint: (cos, sin)
            qp[j.idx_q:j.idx_q + 2] = np.cos(v), np.sin(v)
        else:
            qp[j.idx_q] = v
    pin.framesForwardKinematics(pmodel, pdata, qp)
    base, ee = pdata.oMf[pmodel.getFrameId(desc.base_frame)], pdata.oMf[pmodel.getFrameId(desc.ee_frame)]
    rb = base.rotation
    p = rb.T @ (ee.translation + ee.rotation @ np.asarray(desc.ee_offset) - base.translation)
    return p, rb.T @ ee.rotation


@pytest.mark.parametrize("arm", ARMS)
def test_forward_kinematics_matches_pinocchio_on_1000_configurations(arm, pin):
    desc = load_arm(arm).robot
    model = RobotModel(desc)
    _, urdf, _ = read_description(desc)
    pmodel = pin.buildModelFromXML(urdf)  # Pinocchio's own URDF parser, no MuJoCo involved
    pdata = pmodel.createData()
    rng = np.random.default_rng(0)
    worst_p = worst_r = 0.0
    for _ in range(1000):
        q = model.random_q(rng)
        p, r = model.fk(q)
        p_ref, r_ref = _pin_fk(pin, pmodel, pdata, desc, q)
        worst_p = max(worst_p, float(np.abs(p - p_ref).max()))
        worst_r = max(worst_r, float(np.abs(r - r_ref).max()))
    assert worst_p < 1e-6, f"{arm}: end-effector position off by {worst_p:.2e} m"
    assert worst_r < 1e-6, f"{arm}: end-effector rotation off by {worst_r:.2e}"


def test_robot_description_text_gives_the_same_model():
    """The XML a robot_state_publisher publishes (package:// URIs inside) builds the same kinematics."""
    desc = load_arm("panda").robot
    _, urdf, _ = read_description(desc)
    assert "package://" in urdf and ".dae" in urdf
    from roboloop.sim.description import urdf_for_mujoco
    compiled = urdf_for_mujoco(urdf, ".")
    assert ".dae" not in compiled and "package://" not in compiled  # COLLADA visuals left out, paths resolved
    # Published from another machine: its mesh packages are not here, and kinematics do not need them.
    remote = urdf.replace("package://example-robot-data/", "package://panda_on_the_robot_pc/")
    from_text = RobotModel(RobotDescription.from_dict(
        {"name": "panda", "description": remote, "base_frame": desc.base_frame, "ee_frame": desc.ee_frame,
         "arm_joints": list(desc.arm_joints)}))
    from_file = RobotModel(desc)
    rng = np.random.default_rng(1)
    for _ in range(50):
        q = from_file.random_q(rng)
        assert np.allclose(from_text.fk(q)[0], from_file.fk(q)[0], atol=1e-12)
    assert np.array_equal(from_text.limits, from_file.limits)
    assert from_file.limits[3].tolist() == [-3.0718, -0.0698]  # panda_joint4, straight from the URDF


@pytest.mark.parametrize("arm", ARMS)
def test_ik_reaches_random_reachable_targets_within_limits(arm):
    model = RobotModel(load_arm(arm).robot)
    rng = np.random.default_rng(2)
    reached = 0
    for _ in range(60):
        p, r = model.fk(model.random_q(rng, margin=0.1))
        res = model.ik(p)
        if not res.success:  # one restart, as benchmarks/ik_arms.py does up to four
            res = model.ik(p, q0=model.random_q(rng))
        assert np.all(res.q >= model.limits[:, 0] - 1e-12) and np.all(res.q <= model.limits[:, 1] + 1e-12)
        reached += res.success
        if res.success:
            assert np.linalg.norm(model.fk(res.q)[0] - p) < 2e-3
    assert reached >= 57, f"{arm}: IK reached {reached}/60 targets"
    # A pose target (position and tool orientation), from the middle of the ranges.
    p, r = model.fk(model.random_q(np.random.default_rng(3), margin=0.3))
    res = model.ik(p, r, q0=None)
    for _ in range(6):  # a local solver: random restarts get it out of joint-limit corners
        if res.success:
            break
        res = model.ik(p, r, q0=model.random_q(rng))
    assert res.success and res.rot_error < 0.01


def test_an_unknown_joint_or_frame_is_named():
    d = load_arm("ur5").robot
    bad = RobotDescription.from_dict({"name": "ur5", "description": d.description, "base_frame": "base_link",
                                      "ee_frame": "tool0", "arm_joints": ["shoulder_pan_joint", "elbow"]})
    with pytest.raises(DescriptionError, match="joint\\(s\\) elbow not in the description"):
        RobotModel(bad)
    bad = RobotDescription.from_dict({"name": "ur5", "description": d.description, "base_frame": "base_link",
                                      "ee_frame": "flange", "arm_joints": ["shoulder_pan_joint"]})
    with pytest.raises(DescriptionError, match="ee_frame 'flange' is not a link"):
        RobotModel(bad)
    missing = RobotDescription.from_dict({"name": "x", "description": "package://no_such_pkg/robot.urdf",
                                          "base_frame": "a", "ee_frame": "b", "arm_joints": ["j"]})
    with pytest.raises(DescriptionError, match="package 'no_such_pkg' not found"):
        RobotModel(missing)


@pytest.mark.parametrize("arm", ARMS)
def test_scene_holds_the_home_pose_pointing_down(arm):
    sim = DescribedArmSim(load_arm(arm))
    assert np.linalg.norm(sim.ee_pos() - sim.home_ee) < 1e-3
    for _ in range(5):
        sim.apply_action(np.zeros(3), 0.0, -1.0)
    assert np.linalg.norm(sim.ee_pos() - sim.home_ee) < 3e-3, "the servos hold the arm still"
    assert sim.orientation_error() < 0.02 and abs(sim.ee_yaw()) < 0.02
    assert sim.gripper_opening() > 0.95
    # A commanded move: 5 cm along x and a yaw, tracked within a few millimetres.
    for _ in range(6):
        sim.apply_action(np.array([0.01, 0.0, -0.01]), 0.05, -1.0)
    assert np.linalg.norm(sim.ee_pos() - sim.target_pos) < 5e-3
    assert abs(sim.ee_yaw() - sim.target_yaw) < 0.03
    assert sim.ee_pos()[2] > TABLE_Z


@pytest.mark.parametrize("arm", ARMS)
@pytest.mark.parametrize("task", ["Reach", "PickCube"])
def test_scripted_expert_succeeds(arm, task, make_env):
    env = make_env(f"roboloop/{arm}-{task}-v0")
    for seed in range(3):
        obs, info = env.reset(seed=seed)
        expert = make_expert(env, seed=seed)
        assert env.observation_space.contains(obs)
        for _ in range(env.spec.max_episode_steps):
            obs, reward, terminated, truncated, info = env.step(expert.act())
            if terminated or truncated:
                break
        assert info["is_success"] and terminated and reward == 1.0, f"{arm} {task} seed {seed}: {info}"
        if task == "PickCube":
            assert info["is_grasped"] and info["lift"] >= 0.05


@pytest.mark.parametrize("arm", ARMS)
def test_vision_task_sees_the_arm_and_the_cube(arm, make_env):
    env = make_env(f"roboloop/{arm}-PickCubeVision-v0", image_size=64)
    obs, _ = env.reset(seed=0)
    assert obs["state"].shape == (5,) and obs["front"].shape == (64, 64, 3) and obs["wrist"].shape == (64, 64, 3)
    red = lambda im: int(((im[..., 0] > 150) & (im[..., 1] < 80) & (im[..., 2] < 80)).sum())  # noqa: E731
    assert red(obs["front"]) > 0 and red(obs["wrist"]) > 0, "the red cube is in both views"
    # Hiding the arm changes the front view: the arm is rendered, not only the cube and the table.
    m = env.unwrapped.sim.model
    before = obs["front"].astype(int)
    saved = m.geom_rgba[:, 3].copy()
    m.geom_rgba[m.geom_group == 1, 3] = 0.0
    env.unwrapped._cam_renderer.update_scene(env.unwrapped.sim.data, camera="front")
    after = env.unwrapped._cam_renderer.render().astype(int)
    m.geom_rgba[:, 3] = saved
    assert np.abs(before - after).sum(axis=-1).astype(bool).mean() > 0.01


def test_spec_names_the_robot_and_its_joints(make_env):
    spec = make_env("roboloop/so101-PickCube-v0").unwrapped.task_spec()
    assert spec["task"] == "roboloop/so101-PickCube-v0"
    assert spec["robot"] == {"name": "so101", "arm_joints": ["shoulder_pan", "shoulder_lift", "elbow_flex",
                                                               "wrist_flex", "wrist_roll"], "gripper_joints": ["gripper"]}
    own = make_env("roboloop/PickCube-v0").unwrapped.task_spec()
    assert own["robot"]["name"] == "roboloop_arm" and own["robot"]["arm_joints"] == ["j1", "j2", "j3", "j4", "j5", "j6"]


def _user_config(tmp_path: Path) -> Path:
    """A user's arm file: the Panda URDF by file path, its meshes through a `packages:` entry."""
    shipped = yaml.safe_load((Path(load_arm("panda").source)).read_text())
    urdf = package_dir("example-robot-data") / "robots/panda_description/urdf/panda.urdf"
    cfg = dict(shipped, name="my_panda", description=str(urdf),
               packages={"example-robot-data": str(package_dir("example-robot-data"))})
    path = tmp_path / "my_panda.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_a_users_arm_plugs_in_through_its_config_file(tmp_path, make_env):
    path = _user_config(tmp_path)
    env = make_env("roboloop/arm-PickCube-v0", arm=str(path))
    spec = env.unwrapped.task_spec()
    assert spec["task"] == "roboloop/arm-PickCube-v0" and spec["robot"]["name"] == "my_panda"
    obs, _ = env.reset(seed=4)
    expert = make_expert(env, seed=4)
    for _ in range(env.spec.max_episode_steps):
        obs, reward, terminated, truncated, info = env.step(expert.act())
        if terminated or truncated:
            break
    assert info["is_success"]


def test_bad_arm_configs_are_clear_errors(tmp_path, make_env):
    with pytest.raises(ValueError, match="roboloop/panda-Reach-v0 runs the panda, but the env option arm='ur5'"):
        make_env("roboloop/panda-Reach-v0", arm="ur5")
    with pytest.raises(ValueError, match="needs the env option arm="):
        make_env("roboloop/arm-Reach-v0")
    with pytest.raises(DescriptionError, match="unknown arm 'kuka'"):
        make_env("roboloop/arm-Reach-v0", arm="kuka")
    cfg = yaml.safe_load(_user_config(tmp_path).read_text())
    cfg["sim"]["gripper"]["squeeze"] = 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(DescriptionError, match="unknown sim.gripper key\\(s\\) squeeze"):
        make_env("roboloop/arm-Reach-v0", arm=str(bad))
    cfg["sim"]["gripper"].pop("squeeze")
    cfg["sim"]["home_ee"] = [1.5, 0.0, 0.3]
    bad.write_text(yaml.safe_dump(cfg))
    with pytest.raises(DescriptionError, match="home_ee is out of reach"):
        make_env("roboloop/arm-Reach-v0", arm=str(bad))


def test_a_nan_action_never_moves_a_described_arm(make_env):
    env = make_env("roboloop/ur5-Reach-v0")
    env.reset(seed=0)
    q = env.unwrapped.sim.arm_qpos
    with pytest.raises(ValueError, match="non-finite action"):
        env.step(np.array([np.nan, 0, 0, 0], dtype=np.float32))
    assert np.array_equal(env.unwrapped.sim.arm_qpos, q)


def test_gymnasium_checker_passes_on_a_described_arm(make_env):
    import warnings

    from gymnasium.utils.env_checker import check_env
    env = make_env("roboloop/so101-PickCube-v0", use_yaw=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped, skip_render_check=True)
    assert gym.spec("roboloop/panda-Reach-v0").kwargs == {"fixed_arm": "panda"}


def test_an_mjcf_description_gives_its_kinematics():
    """roboloop's own MJCF arm through the same path: FK at the sim's home pose lands on its ee site."""
    from roboloop.sim import ArmSim
    from roboloop.sim.robot import ARM_JOINTS, default_model_path
    desc = RobotDescription.from_dict({"name": "roboloop_arm", "description": default_model_path(),
                                       "base_frame": "base", "ee_frame": "link6", "ee_offset": [0, 0, 0.0875],
                                       "arm_joints": list(ARM_JOINTS)})
    model = RobotModel(desc)
    sim = ArmSim()
    p, r = model.fk(sim.home_qpos)
    assert np.allclose(p + [0.0, 0.0, TABLE_Z], sim.ee_pos(), atol=1e-9)
    assert np.allclose(r, sim.ee_rot(), atol=1e-9)
    assert np.allclose(model.limits[0], [-2.9, 2.9])


def test_domain_randomization_changes_a_described_arms_own_links():
    from roboloop.envs import make_env as make_wrapped
    env = make_wrapped("so101-PickCube", {}, [{"type": "domain_randomization"}])
    m = env.unwrapped.sim.model
    link = m.jnt_bodyid[m.joint("elbow_flex").id]
    nominal = m.body_mass[link]
    _, info = env.reset(seed=3)
    d = info["randomization"]["domain"]
    assert len(d["link_mass"]) == 5 and len(d["actuator_gain"]) == 5  # one per SO-101 arm joint
    assert m.body_mass[link] == pytest.approx(nominal * d["link_mass"][2])
    env.close()


def test_a_config_missing_keys_or_with_a_bad_name_is_refused(tmp_path):
    from roboloop.sim.arms import arm_from_dict
    with pytest.raises(DescriptionError, match="robot config lacks ee_frame, arm_joints"):
        RobotDescription.from_dict({"name": "x", "description": "x.urdf", "base_frame": "base"})
    cfg = yaml.safe_load(_user_config(tmp_path).read_text())
    with pytest.raises(DescriptionError, match="robot name 'my panda' may hold only letters"):
        arm_from_dict(dict(cfg, name="my panda"))
    with pytest.raises(DescriptionError, match="sim.home_q \\(one per arm joint\\) needs 7 numbers"):
        arm_from_dict(dict(cfg, sim=dict(cfg["sim"], home_q=[0, 0, 0])))
