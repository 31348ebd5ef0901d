"""Episodes recorded as MCAP files of standard ROS 2 messages (CDR, `ros2msg` schemas), so
`ros2 bag info/play` and Foxglove open them, and `read_episodes` / `mcap_to_demos` turn them back
into the demo dataset of roboloop.dataset.

Format `roboloop-mcap` v1: one file per recording, any number of episodes, profile `ros2`.
Every step is one *frame*: all its messages share one log time (ns), and log times strictly
increase through the file, so a reader groups by time and never depends on record order.

    topic                    type                          at each frame
    /episode_event           std_msgs/msg/String           JSON {"event": "start", "episode": i} with
                                                           the reset observation; {"event": "end",
                                                           "episode", "steps", "terminated",
                                                           "truncated", "success"} with the last step
    /observation/state       std_msgs/msg/Float32MultiArray every observation (the reset one and one
                                                           per step: the observation after the action)
    /<camera>/image_raw      sensor_msgs/msg/Image         uint8 (H, W, 3) keys as rgb8, (H, W[, 1])
                                                           as mono8; frame_id <camera>_camera
    /observation/<key>       std_msgs/msg/{Float32,Float64,UInt8}MultiArray  any other key (layout
                                                           dims = the array's shape)
    /action                  std_msgs/msg/Float32MultiArray the normalized [-1, 1] action applied in
                                                           this step (the person's when intervening)
    /reward                  std_msgs/msg/Float64          reward of this step
    /intervention/active     std_msgs/msg/Bool             a person drove this step
    /success                 std_msgs/msg/Bool             the task reports success after this step

Episodes end at the first terminated/truncated step (the Gymnasium contract), so those two flags
travel once, in the end event, for the last step. A metadata record named `roboloop` holds
`format`, `version`, `env_spec` (JSON) and `layout` (JSON: observation key -> topic, dtype, shape).
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from roboloop.dataset import DatasetError, Episode, save_demos

FORMAT, VERSION = "roboloop-mcap", 1
EVENT, ACTION, REWARD, INTERVENTION, SUCCESS = (
    "/episode_event", "/action", "/reward", "/intervention/active", "/success")

# ros2msg schema text: the definition, then each nested type after a line of 80 '=' and
# "MSG: pkg/Type" (what rosbag2 writes). Inlined rather than read from share/ so writing and reading
# need no ROS 2 install.
_SEP = "=" * 80 + "\n"
_TIME = "MSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n"
_HEADER = "MSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n"
_LAYOUT = ("MSG: std_msgs/MultiArrayLayout\nMultiArrayDimension[] dim\nuint32 data_offset\n" + _SEP
           + "MSG: std_msgs/MultiArrayDimension\nstring label\nuint32 size\nuint32 stride\n")
SCHEMAS = {
    "sensor_msgs/msg/Image": ("std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\n"
                              "uint8 is_bigendian\nuint32 step\nuint8[] data\n" + _SEP + _HEADER + _SEP + _TIME),
    **{f"std_msgs/msg/{t}MultiArray": f"MultiArrayLayout layout\n{t.lower()}[] data\n" + _SEP + _LAYOUT
       for t in ("Float32", "Float64", "UInt8")},
    "std_msgs/msg/Float64": "float64 data\n",
    "std_msgs/msg/Bool": "bool data\n",
    "std_msgs/msg/String": "string data\n",
}
_ARRAY_TYPE = {"float32": "std_msgs/msg/Float32MultiArray", "float64": "std_msgs/msg/Float64MultiArray",
               "uint8": "std_msgs/msg/UInt8MultiArray"}
_STEP_TOPICS = {ACTION: "std_msgs/msg/Float32MultiArray", REWARD: "std_msgs/msg/Float64",
                INTERVENTION: "std_msgs/msg/Bool", SUCCESS: "std_msgs/msg/Bool", EVENT: "std_msgs/msg/String"}


def _require_mcap() -> None:
    try:
        import mcap  # noqa: F401
        import mcap_ros2  # noqa: F401
    except ImportError:
        raise ValueError("MCAP recording needs the `mcap` and `mcap-ros2-support` packages "
                         "(pip install 'roboloop[ros]')") from None


def observation_layout(env_spec: dict) -> dict[str, dict[str, Any]]:
    """Observation key -> {"topic", "type", "dtype", "shape"} from the spec's observation entries."""
    layout = {}
    for key, entry in env_spec.get("observation", {}).items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
            raise ValueError(f"observation key {key!r} is not a valid ROS 2 topic name")
        shape, dtype = [int(s) for s in entry["shape"]], str(entry.get("dtype", "float32"))
        if dtype == "uint8" and (len(shape) == 2 or (len(shape) == 3 and shape[2] in (1, 3))):
            layout[key] = {"topic": f"/{key}/image_raw", "type": "sensor_msgs/msg/Image"}
        elif dtype in _ARRAY_TYPE:
            layout[key] = {"topic": f"/observation/{key}", "type": _ARRAY_TYPE[dtype]}
        else:
            raise ValueError(f"observation {key!r}: dtype {dtype} cannot be recorded (float32, float64, uint8)")
        layout[key].update(dtype=dtype, shape=shape)
    if "state" not in layout:
        raise ValueError("env spec has no 'observation' entry with a 'state' key")
    return layout


class McapEpisodeWriter:
    """Writes episodes to one MCAP file, atomically: everything goes to `<path>.tmp`, which `close()`
    renames to `path`, so a crash never leaves a half file under the final name.

    Usage: `start_episode(t_ns, obs)`, then `add_step(...)` per env step, then `end_episode()`;
    repeat; `close()` (or use it as a context manager). Times are ns (e.g. `time.time_ns()`) and must
    strictly increase. Arguments are checked before anything is written, so a refused call leaves
    the file consistent.
    """

    def __init__(self, path: str | Path, env_spec: dict):
        _require_mcap()
        from mcap_ros2.writer import Writer
        self.path = Path(path)
        self.layout = observation_layout(env_spec)
        self.action_dim = int(env_spec["action"]["shape"][0])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(self.path.name + ".tmp")
        self._file = open(self._tmp, "wb")
        self._writer = Writer(self._file)
        self._types = {**_STEP_TOPICS, **{v["topic"]: v["type"] for v in self.layout.values()}}
        self._schemas = {name: self._writer.register_msgdef(name, SCHEMAS[name])
                         for name in sorted(set(self._types.values()))}
        self._writer.add_metadata("roboloop", {
            "format": FORMAT, "version": str(VERSION), "env_spec": json.dumps(env_spec),
            "layout": json.dumps({k: {f: v[f] for f in ("topic", "dtype", "shape")}
                                  for k, v in self.layout.items()})})
        self._last_t = -1
        self._episode = 0
        self._steps: int | None = None  # None: no episode open
        self._last_step: dict[str, bool] = {}

    # -- episodes -------------------------------------------------------------------------------
    def start_episode(self, t_ns: int, obs: dict[str, np.ndarray]) -> None:
        """Open an episode with its reset observation (a dict like the env's, see `layout`)."""
        if self._steps is not None:
            raise ValueError(f"episode {self._episode} is still open; call end_episode() first")
        msgs = self._obs_messages(obs, t_ns)
        self._check_time(t_ns)
        self._write(EVENT, {"data": json.dumps({"event": "start", "episode": self._episode})}, t_ns)
        self._write_all(msgs, t_ns)
        self._steps, self._last_step = 0, {}

    def add_step(self, t_ns: int, obs: dict[str, np.ndarray], action: np.ndarray, reward: float,
                 terminated: bool = False, truncated: bool = False, success: bool = False,
                 intervened: bool = False) -> None:
        """One env step: `obs` is the observation after `action` ((A,) float32, normalized)."""
        if self._steps is None:
            raise ValueError("no episode open; call start_episode() first")
        if self._last_step.get("terminated") or self._last_step.get("truncated"):
            raise ValueError(f"episode {self._episode} already ended at step {self._steps} "
                             "(terminated/truncated); call end_episode()")
        action = np.asarray(action)
        if action.shape != (self.action_dim,) or action.dtype != np.float32:
            raise ValueError(f"action must be float32 ({self.action_dim},), got {action.dtype} {action.shape}")
        msgs = self._obs_messages(obs, t_ns)
        self._check_time(t_ns)
        msgs += [(ACTION, _array_msg(action, "action")), (REWARD, {"data": float(reward)}),
                 (INTERVENTION, {"data": bool(intervened)}), (SUCCESS, {"data": bool(success)})]
        self._write_all(msgs, t_ns)
        self._steps += 1
        self._last_step = {"terminated": bool(terminated), "truncated": bool(truncated),
                           "success": bool(success)}

    def end_episode(self, success: bool | None = None) -> None:
        """Close the episode (stamped with its last step); `success` defaults to the last step's.
        An episode stopped before terminated/truncated keeps both False on its last step."""
        if self._steps is None:
            raise ValueError("no episode open")
        event = {"event": "end", "episode": self._episode, "steps": self._steps,
                 "terminated": self._last_step.get("terminated", False),
                 "truncated": self._last_step.get("truncated", False),
                 "success": bool(self._last_step.get("success", False) if success is None else success)}
        if self._steps == 0:  # the start frame already has an event: go 1 ns later (readers skip it)
            self._check_time(self._last_t + 1)
        self._write(EVENT, {"data": json.dumps(event)}, self._last_t)
        self._steps, self._episode = None, self._episode + 1

    def write_episode(self, episode: Episode, t0_ns: int, dt_ns: int) -> int:
        """Write a whole `Episode`, observation k at `t0_ns + k * dt_ns`; returns the next free time.
        An Episode has no per-step success: every step but the last reports False."""
        self.start_episode(t0_ns, episode.observations[0])
        n = len(episode.actions)
        for k in range(n):
            self.add_step(t0_ns + (k + 1) * dt_ns, episode.observations[k + 1], episode.actions[k],
                          episode.rewards[k], episode.terminated[k], episode.truncated[k],
                          success=episode.success and k == n - 1, intervened=episode.intervention[k])
        self.end_episode(episode.success)
        return t0_ns + (n + 1) * dt_ns

    # -- file -----------------------------------------------------------------------------------
    def close(self) -> Path:
        """End an open episode, finish the file and move it to `path`."""
        if self._file.closed:
            return self.path
        if self._steps is not None:
            self.end_episode()
        self._writer.finish()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._tmp.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Drop the recording: nothing appears under `path`."""
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> McapEpisodeWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Even when the caller failed, keep what was recorded: every frame written is complete.
        try:
            self.close()
        except BaseException:
            self.abort()
            if exc_type is None:
                raise

    # -- helpers --------------------------------------------------------------------------------
    def _check_time(self, t_ns: int) -> None:
        if int(t_ns) <= self._last_t:
            raise ValueError(f"time {t_ns} ns is not after the previous frame ({self._last_t} ns)")
        self._last_t = int(t_ns)

    def _obs_messages(self, obs: dict[str, np.ndarray], t_ns: int) -> list[tuple[str, dict]]:
        if set(obs) != set(self.layout):
            raise ValueError(f"observation keys {sorted(obs)} differ from the spec's {sorted(self.layout)}")
        msgs = []
        for key, lay in self.layout.items():
            a = np.asarray(obs[key])
            if list(a.shape) != lay["shape"] or a.dtype != np.dtype(lay["dtype"]):
                raise ValueError(f"observation {key!r}: got {a.dtype} {a.shape}, spec says {lay['dtype']} "
                                 f"{tuple(lay['shape'])}")
            if lay["type"] == "sensor_msgs/msg/Image":
                h, w = a.shape[:2]
                channels = a.shape[2] if a.ndim == 3 else 1
                msg = {"header": {"stamp": {"sec": int(t_ns) // 10**9, "nanosec": int(t_ns) % 10**9},
                                  "frame_id": f"{key}_camera"},
                       "height": h, "width": w, "encoding": "rgb8" if channels == 3 else "mono8",
                       "is_bigendian": 0, "step": w * channels, "data": np.ascontiguousarray(a).tobytes()}
            else:
                msg = _array_msg(a, key)
            msgs.append((lay["topic"], msg))
        return msgs

    def _write_all(self, msgs: list[tuple[str, dict]], t_ns: int) -> None:
        for topic, msg in msgs:
            self._write(topic, msg, t_ns)

    def _write(self, topic: str, msg: dict, t_ns: int) -> None:
        t_ns = int(t_ns)
        schema = self._schemas[self._types[topic]]
        self._writer.write_message(topic, schema, msg, log_time=t_ns, publish_time=t_ns)


def _array_msg(a: np.ndarray, label: str) -> dict:
    """A std_msgs *MultiArray: one layout dim per axis (row-major strides, the ROS convention)."""
    strides = [int(np.prod(a.shape[i:])) for i in range(a.ndim)]
    dims = [{"label": f"{label}_{i}" if a.ndim > 1 else label, "size": int(s), "stride": st}
            for i, (s, st) in enumerate(zip(a.shape, strides))]
    data = a.tobytes() if a.dtype == np.uint8 else a.ravel().tolist()
    return {"layout": {"dim": dims, "data_offset": 0}, "data": data}


def save_mcap(path: str | Path, episodes: list[Episode], env_spec: dict, t0_ns: int | None = None) -> Path:
    """Write `episodes` to one MCAP file, one frame per control period (from the spec's control_hz)
    starting at `t0_ns` (default now)."""
    dt = int(round(1e9 / float(env_spec.get("control_hz") or 10.0)))
    t = time.time_ns() if t0_ns is None else int(t0_ns)
    writer = McapEpisodeWriter(path, env_spec)
    try:
        for ep in episodes:
            t = writer.write_episode(ep, t, dt)
    except BaseException:
        writer.abort()  # a batch write is all or nothing, like save_demos
        raise
    return writer.close()


def read_episodes(path: str | Path) -> tuple[list[Episode], dict]:
    """(episodes, meta) from a file of McapEpisodeWriter; meta = {"format", "version", "env_spec",
    "layout"}. Episodes with no step are skipped. Raises DatasetError naming the file and the problem."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"MCAP file {path} not found")
    meta, frames = _read_raw(path)
    layout = meta["layout"]
    obs_topics = {v["topic"]: k for k, v in layout.items()}
    episodes: list[Episode] = []
    current: Episode | None = None
    for t, frame in frames:
        where = f"MCAP file {path}, frame at {t} ns"
        event = _event(frame, where)
        if event.get("event") == "start":
            if current is not None:
                raise DatasetError(f"{where}: episode {len(episodes)} starts before the previous one ended")
            current = Episode(observations=[_observation(frame, layout, where)])
        elif current is None:
            raise DatasetError(f"{where}: data outside an episode (no start event before it)")
        elif set(frame) & (set(obs_topics) | {ACTION}):
            missing = sorted((set(obs_topics) | {ACTION, REWARD, INTERVENTION}) - set(frame))
            if missing:
                raise DatasetError(f"{where}: step lacks {', '.join(missing)}")
            current.observations.append(_observation(frame, layout, where))
            current.actions.append(np.array(frame[ACTION].data, np.float32))
            current.rewards.append(float(frame[REWARD].data))
            current.terminated.append(False)
            current.truncated.append(False)
            current.intervention.append(bool(frame[INTERVENTION].data))
        if event.get("event") == "end":
            if current is None or len(current.actions) != event.get("steps"):
                raise DatasetError(f"{where}: end event says {event.get('steps')} steps, the episode has "
                                   f"{None if current is None else len(current.actions)}")
            if current.actions:
                current.terminated[-1] = bool(event["terminated"])
                current.truncated[-1] = bool(event["truncated"])
                current.success = bool(event["success"])
                episodes.append(current)
            current = None
    if current is not None:
        raise DatasetError(f"MCAP file {path}: the last episode has no end event (recording cut off?)")
    return episodes, meta


def _read_raw(path: Path) -> tuple[dict, list[tuple[int, dict[str, Any]]]]:
    """The roboloop metadata and the decoded messages of its topics grouped by log time."""
    _require_mcap()
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    try:
        with open(path, "rb") as f:
            reader = make_reader(f, validate_crcs=True, decoder_factories=[DecoderFactory()])
            records = {m.name: m.metadata for m in reader.iter_metadata()}
            if "roboloop" not in records:
                raise DatasetError(f"MCAP file {path} has no 'roboloop' metadata (not written by roboloop?)")
            raw = records["roboloop"]
            if raw.get("format") != FORMAT or raw.get("version") != str(VERSION):
                raise DatasetError(f"MCAP file {path}: format {raw.get('format')!r} v{raw.get('version')}, "
                                   f"expected {FORMAT!r} v{VERSION}")
            meta = {"format": FORMAT, "version": VERSION, "env_spec": json.loads(raw["env_spec"]),
                    "layout": json.loads(raw["layout"])}
            need = {v["topic"] for v in meta["layout"].values()} | {EVENT, ACTION, REWARD, INTERVENTION}
            present = {c.topic for c in reader.get_summary().channels.values()}
            if present and need - present:  # no channel at all: an empty recording, no episode
                raise DatasetError(f"MCAP file {path} lacks topics {', '.join(sorted(need - present))}")
            frames: list[tuple[int, dict[str, Any]]] = []
            for _, channel, message, decoded in reader.iter_decoded_messages(topics=sorted(need)):
                if not frames or frames[-1][0] != message.log_time:
                    frames.append((message.log_time, {}))
                if channel.topic in frames[-1][1]:
                    raise DatasetError(f"MCAP file {path}: two {channel.topic} messages at "
                                       f"{message.log_time} ns")
                frames[-1][1][channel.topic] = decoded
    except DatasetError:
        raise
    except Exception as e:  # noqa: BLE001 -- the bytes are untrusted; mcap/zstd/CDR raise many types
        raise DatasetError(f"MCAP file {path} is not a readable roboloop MCAP file, truncated or corrupt "
                           f"({type(e).__name__}: {e})") from None
    return meta, frames


def _event(frame: dict[str, Any], where: str) -> dict:
    if EVENT not in frame:
        return {}
    try:
        event = json.loads(frame[EVENT].data)
    except json.JSONDecodeError:
        event = None
    if not isinstance(event, dict) or event.get("event") not in ("start", "end"):
        raise DatasetError(f"{where}: bad {EVENT} message {frame[EVENT].data!r}")
    return event


def _observation(frame: dict[str, Any], layout: dict, where: str) -> dict[str, np.ndarray]:
    obs = {}
    for key, lay in layout.items():
        msg = frame.get(lay["topic"])
        if msg is None:
            raise DatasetError(f"{where}: no {lay['topic']} message")
        dtype = np.dtype(lay["dtype"])
        a = np.frombuffer(msg.data, np.uint8).copy() if dtype == np.uint8 else np.array(msg.data, dtype)
        if a.size != int(np.prod(lay["shape"])):
            raise DatasetError(f"{where}: {lay['topic']} holds {a.size} values, expected shape {lay['shape']}")
        obs[key] = a.reshape(lay["shape"])
    return obs


def mcap_to_demos(mcap_path: str | Path, npz_path: str | Path) -> tuple[Path, list[Episode]]:
    """Convert a recording to the demo dataset (`roboloop train --demos FILE.npz`)."""
    episodes, meta = read_episodes(mcap_path)
    if not episodes:
        raise DatasetError(f"MCAP file {mcap_path} holds no episode with a step")
    return save_demos(npz_path, episodes, meta["env_spec"]), episodes
