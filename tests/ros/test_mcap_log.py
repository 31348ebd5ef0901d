"""MCAP recording (roboloop.mcap_log): real PickCube / PickCubeVision episodes from the scripted expert
are written as ROS 2 messages, read back exactly, converted to the demo dataset and trained from;
the files are what `ros2 bag` and Foxglove expect (profile ros2, ros2msg schemas, CDR that rclpy's
own deserializer reads); broken files are refused with a DatasetError naming the file."""
import importlib
import json

import numpy as np
import pytest
from mcap.reader import make_reader
from rclpy.serialization import deserialize_message

from roboloop.cli import main
from roboloop.config import build_train_config
from roboloop.dataset import DatasetError, Episode, load_demos
from roboloop.mcap_log import McapEpisodeWriter, mcap_to_demos, read_episodes, save_mcap
from roboloop.policies.train_loop import Trainer
from roboloop.record import drive

T0 = 1_700_000_000 * 10**9  # ns
TINY = ["sac.hidden_dims=[16, 16]", "sac.compile=false", "sac.batch_size=16", "learning_starts=20",
        "eval_every=0", "eval_episodes=1", "checkpoint_every=100000"]


@pytest.fixture(scope="module")
def vision():
    """Two PickCubeVision episodes (32x32 front + wrist cameras), some steps marked as a person's."""
    episodes, spec = drive("PickCubeVision", "expert", 2, view=False, env_kwargs={"image_size": 32},
                           log=lambda s: None)
    episodes[1].intervention = [k % 3 == 0 for k in range(len(episodes[1].actions))]
    return episodes, spec


def assert_same(got: list[Episode], want: list[Episode]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert len(g.observations) == len(w.observations) and len(g.actions) == len(w.actions)
        for go, wo in zip(g.observations, w.observations):
            assert list(go) == list(wo)
            for k in wo:
                assert go[k].dtype == wo[k].dtype and go[k].shape == wo[k].shape
                np.testing.assert_array_equal(go[k], wo[k])
        for ga, wa in zip(g.actions, w.actions):
            assert ga.dtype == np.float32
            np.testing.assert_array_equal(ga, wa)
        assert (g.rewards, g.terminated, g.truncated, g.intervention, g.success) == \
               (w.rewards, w.terminated, w.truncated, w.intervention, w.success)


def test_vision_episodes_round_trip_exactly(tmp_path, vision):
    episodes, spec = vision
    assert all(e.success for e in episodes) and any(episodes[1].intervention)
    path = save_mcap(tmp_path / "rec.mcap", episodes, spec, t0_ns=T0)
    assert path.is_file() and not (tmp_path / "rec.mcap.tmp").exists()
    got, meta = read_episodes(path)
    assert_same(got, episodes)
    assert meta["env_spec"] == spec and meta["format"] == "roboloop-mcap"
    assert meta["layout"]["front"] == {"topic": "/front/image_raw", "dtype": "uint8", "shape": [32, 32, 3]}


def test_file_is_plain_ros2_mcap(tmp_path, vision):
    """What ros2 bag (rosbag2_storage_mcap) and Foxglove need: the ros2 profile, ros2msg schemas named
    pkg/msg/Type, cdr messages, log times on the control grid; rclpy decodes every message."""
    episodes, spec = vision
    path = save_mcap(tmp_path / "rec.mcap", episodes, spec, t0_ns=T0)
    types = {"/episode_event": "std_msgs/msg/String", "/observation/state": "std_msgs/msg/Float32MultiArray",
             "/front/image_raw": "sensor_msgs/msg/Image", "/wrist/image_raw": "sensor_msgs/msg/Image",
             "/action": "std_msgs/msg/Float32MultiArray", "/reward": "std_msgs/msg/Float64",
             "/intervention/active": "std_msgs/msg/Bool", "/success": "std_msgs/msg/Bool"}
    n_steps, n_eps = sum(len(e.actions) for e in episodes), len(episodes)
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
        counts = summary.statistics.channel_message_counts
        channels = {c.topic: c for c in summary.channels.values()}
        assert set(channels) == set(types)
        for topic, ch in channels.items():
            schema = summary.schemas[ch.schema_id]
            assert (ch.message_encoding, schema.encoding, schema.name) == ("cdr", "ros2msg", types[topic])
        assert counts[channels["/front/image_raw"].id] == n_steps + n_eps  # T + 1 observations per episode
        assert counts[channels["/action"].id] == n_steps
        assert counts[channels["/episode_event"].id] == 2 * n_eps
        meta = {m.name: m.metadata for m in reader.iter_metadata()}["roboloop"]
        assert json.loads(meta["env_spec"]) == spec
        first: dict = {}
        for schema, channel, message in reader.iter_messages():
            pkg, _, name = schema.name.split("/")
            msg = deserialize_message(message.data, getattr(importlib.import_module(f"{pkg}.msg"), name))
            first.setdefault(channel.topic, (message.log_time, msg))
    t, image = first["/front/image_raw"]
    assert t == T0 and (image.height, image.width, image.encoding, image.step) == (32, 32, "rgb8", 96)
    assert image.header.frame_id == "front_camera" and image.header.stamp.sec == T0 // 10**9
    pixels = np.array(image.data, np.uint8).reshape(32, 32, 3)
    np.testing.assert_array_equal(pixels, episodes[0].observations[0]["front"])
    t, state = first["/observation/state"]
    np.testing.assert_array_equal(np.array(state.data, np.float32), episodes[0].observations[0]["state"])
    assert state.layout.dim[0].size == 5
    t, action = first["/action"]
    assert t == T0 + 10**8  # first step, 10 Hz after the reset observation
    np.testing.assert_array_equal(np.array(action.data, np.float32), episodes[0].actions[0])
    assert json.loads(first["/episode_event"][1].data) == {"event": "start", "episode": 0}


def test_streaming_writer_flags_atomicity_and_refusals(tmp_path):
    spec = {"observation": {"state": {"shape": [2], "dtype": "float32"},
                            "depth": {"shape": [4, 3], "dtype": "uint8"},
                            "history": {"shape": [2, 3], "dtype": "float64"}},
            "action": {"shape": [2]}, "control_hz": 10.0}
    rng = np.random.default_rng(0)

    def obs():
        return {"state": rng.normal(size=2).astype(np.float32), "depth": rng.integers(0, 255, (4, 3), np.uint8),
                "history": rng.normal(size=(2, 3))}

    path = tmp_path / "stream.mcap"
    want = [Episode(), Episode()]
    with McapEpisodeWriter(path, spec) as w:
        t = T0
        for i, ep in enumerate(want):
            ep.observations.append(obs())
            w.start_episode(t, ep.observations[0])
            for k in range(3):
                t += 10**8
                ep.observations.append(obs())
                ep.actions.append(rng.uniform(-1, 1, 2).astype(np.float32))
                ep.rewards.append(float(rng.normal()))  # float64 rewards survive exactly
                ep.intervention.append(k == 1)
                ep.terminated.append(False)
                ep.truncated.append(i == 0 and k == 2)
                w.add_step(t, ep.observations[-1], ep.actions[-1], ep.rewards[-1], False, ep.truncated[-1],
                           intervened=ep.intervention[-1])
                if k == 1:  # refused calls write nothing: the file stays consistent
                    with pytest.raises(ValueError, match="not after the previous frame"):
                        w.add_step(t, obs(), ep.actions[-1], 0.0)
                    with pytest.raises(ValueError, match="observation 'depth'"):
                        w.add_step(t + 1, {**obs(), "depth": np.zeros((4, 4), np.uint8)}, ep.actions[-1], 0.0)
                    with pytest.raises(ValueError, match=r"action must be float32 \(2,\)"):
                        w.add_step(t + 1, obs(), np.zeros(2), 0.0)
            if i == 0:
                with pytest.raises(ValueError, match="already ended"):
                    w.add_step(t + 1, obs(), ep.actions[-1], 0.0)
                w.end_episode(success=True)
                ep.success = True
            t += 10**8
        assert not path.exists() and (tmp_path / "stream.mcap.tmp").exists()  # nothing under the final name yet
        # the second episode is left open: close() ends it as it stands (neither terminated nor truncated)
    assert path.exists() and not (tmp_path / "stream.mcap.tmp").exists()
    got, meta = read_episodes(path)
    assert_same(got, want)
    assert got[0].truncated == [False, False, True] and got[1].truncated == [False, False, False]
    assert got[0].observations[0]["history"].dtype == np.float64
    assert meta["layout"]["depth"]["topic"] == "/depth/image_raw"  # (H, W) uint8 is a mono8 image

    with pytest.raises(RuntimeError, match="env died"):  # an error in the recording loop keeps what was recorded
        with McapEpisodeWriter(tmp_path / "crash.mcap", spec) as w:
            w.start_episode(T0, obs())
            w.add_step(T0 + 1, obs(), np.zeros(2, np.float32), 0.5)
            raise RuntimeError("env died")
    assert [e.rewards for e in read_episodes(tmp_path / "crash.mcap")[0]] == [[0.5]]

    aborted = McapEpisodeWriter(tmp_path / "aborted.mcap", spec)
    aborted.start_episode(T0, obs())
    aborted.abort()
    assert not list(tmp_path.glob("aborted*"))


def test_record_cli_convert_and_train(tmp_path, capsys):
    rec, npz = tmp_path / "demos.mcap", tmp_path / "demos.npz"
    assert main(["record", "--task", "PickCube", "--input", "expert", "--episodes", "2", "--no-view",
                 "--out", str(rec)]) == 0
    assert main(["mcap2demos", str(rec), str(npz)]) == 0
    out = capsys.readouterr().out
    assert f"to {npz}" in out and "converted 2 episodes" in out
    from_mcap, meta = read_episodes(rec)
    from_npz, npz_meta = load_demos(npz)
    assert_same(from_npz, from_mcap)
    assert npz_meta["env_spec"] == meta["env_spec"] and meta["env_spec"]["task"] == "roboloop/PickCube-v0"

    cfg = build_train_config("PickCube", None, TINY + [f"demo_file={npz}", "demos=0"], steps=30, seed=0)
    trainer = Trainer(cfg, run_dir=tmp_path / "run", progress=False, log=lambda s: None)
    trainer.run()
    assert trainer.demo.num_added == sum(len(e.actions) for e in from_mcap)

    assert main(["record", "--input", "expert", "--episodes", "1", "--format", "mcap",
                 "--out", str(tmp_path / "x.npz")]) == 2
    assert "--format mcap but the output file" in capsys.readouterr().err


def test_broken_files_raise_dataset_errors_naming_the_file(tmp_path, vision, capsys):
    episodes, spec = vision
    good = save_mcap(tmp_path / "good.mcap", episodes[:1], spec, t0_ns=T0)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.mcap"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=f"{truncated}.*truncated or corrupt"):
        read_episodes(truncated)
    noise = tmp_path / "noise.mcap"
    noise.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(DatasetError, match=f"{noise}.*truncated or corrupt"):
        mcap_to_demos(noise, tmp_path / "noise.npz")
    assert main(["mcap2demos", str(noise), str(tmp_path / "noise.npz")]) == 2
    assert str(noise) in capsys.readouterr().err and not (tmp_path / "noise.npz").exists()
    with pytest.raises(DatasetError, match="not found"):
        read_episodes(tmp_path / "missing.mcap")

    # a valid ROS 2 MCAP from elsewhere: no roboloop metadata
    from mcap_ros2.writer import Writer
    foreign = tmp_path / "foreign.mcap"
    with open(foreign, "wb") as f, Writer(f) as w:
        w.write_message("/chatter", w.register_msgdef("std_msgs/msg/String", "string data\n"), {"data": "hi"}, 1)
    with pytest.raises(DatasetError, match=f"{foreign} has no 'roboloop' metadata"):
        read_episodes(foreign)

    # a roboloop file with the /action channel removed (as if filtered out by a tool)
    from mcap.writer import Writer as RawWriter
    no_action = tmp_path / "no_action.mcap"
    with open(good, "rb") as src, open(no_action, "wb") as dst:
        reader, out = make_reader(src), RawWriter(dst)
        out.start(profile="ros2")
        for m in reader.iter_metadata():
            out.add_metadata(m.name, m.metadata)
        summary, ids = reader.get_summary(), {}
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            if channel.topic == "/action":
                continue
            if channel.id not in ids:
                sid = out.register_schema(schema.name, schema.encoding, schema.data)
                ids[channel.id] = out.register_channel(channel.topic, channel.message_encoding, sid)
            out.add_message(ids[channel.id], message.log_time, message.data, message.publish_time)
        out.finish()
    assert summary.channels
    with pytest.raises(DatasetError, match=f"{no_action} lacks topics /action"):
        read_episodes(no_action)
