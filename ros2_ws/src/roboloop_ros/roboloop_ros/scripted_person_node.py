"""scripted_person_node: a stand-in for the person at the pad, for the sim demo and tests.

It plugs an SDL virtual gamepad into this process, moves its sticks and buttons the way the scripted
PickCube expert would, and publishes what roboloop's real pygame reader reads from it (so the whole
path pad -> Joy -> teleop_node -> actor is the one a real pad takes). The expert acts on `state_topic`:
the robot's own `observation/state` by default, or in the sim, as a person who looks at the scene does,
the sim robot's `ground_truth/state` (the world without the robot's sensing errors, e.g. a miscalibrated
camera). They take over (hold the deadman) when the policy has
had `patience` steps of an episode without lifting the cube, and drive to the end of that episode. On a
robot whose actions arrive `action_delay` control steps late they wait out the lag, as a person who feels
it does. With `robot` set (so101, panda, ur5 or an arm YAML path) the cube size, the step size at full stick and
the lift height are that arm's (its YAML's `sim` section) instead of the parameters below.

With `task` set to a mobile-base task (roboloop/base-Nav-v0, with its options in `env`) the person drives
the base instead, on the left stick ([v, w]: linear and angular velocity): the DWA planner on the published
state (pure pursuit on the checkpoints for base-Race). They take over once the policy has had `patience`
steps of an episode without bringing the base `progress` m closer to the goal, and drive to its end.

The pad is read and published at once after each decision, so each Joy message answers one state (the
actor waits briefly for that answer, see actor_node's `person_wait`). Between states (a reset) the pad
is re-published every `heartbeat` s, so teleop_node does not take the pad for unplugged.

Subscribes: `state_topic` (std_msgs/Float32MultiArray), actor/episode_step (std_msgs/Int32)
Publishes:  joy (sensor_msgs/Joy), as joy_node does
"""
from __future__ import annotations

import time

import numpy as np
from std_msgs.msg import Float32MultiArray, Int32

from roboloop.hardware.gamepad.joy import load_map
from roboloop.hardware.gamepad.virtual import VirtualGamepad, drive_pad
from roboloop.sim.arms import load_arm
from roboloop.sim.experts import base_expert_from_spec, expert_from_state
from roboloop.sim.robot import TABLE_Z
from roboloop_ros.joy_node import JoyNode
from roboloop_ros.node_main import declare_params, run_node


class ScriptedPersonNode(JoyNode):
    def __init__(self):
        # The virtual pad must exist before JoyNode opens pad 0.
        self.virtual = VirtualGamepad()
        super().__init__("scripted_person")
        p = declare_params(self, {
            "pad": "xbox",            # pad map the virtual pad imitates
            "patience": 20,           # steps without a lift (a base: without `progress`) before the person takes over
            "lift_threshold": 0.04,   # m above the resting height that counts as lifted
            "cube_half": 0.02,        # m, half the cube's side
            "max_delta_pos": 0.02,    # m per control step at full stick
            "max_delta_yaw": 0.2,     # rad per control step at full stick
            "use_yaw": False,         # the task has a yaw action
            "heartbeat": 0.2,         # s; under teleop_node's joy_timeout
            "action_delay": 0,        # control steps the robot applies actions late; the person waits them out
            "robot": "",              # an arm's name or YAML: its cube, step size and lift height
            "task": "",               # a mobile-base task id: drive the base (empty: the arm's PickCube)
            "env": "",                # that task's options, "key=value,..." as sim_base_node takes them
            "progress": 0.5,          # m (base): progress toward the goal within `patience` steps that keeps the person watching
            "state_topic": "observation/state",   # the state the person acts on (sim: ground_truth/state)
        })
        self.map = load_map(p["pad"])
        self.patience, self.heartbeat = p["patience"], p["heartbeat"]
        self.t = -1
        self.action: np.ndarray | None = None
        self.last_publish = -np.inf
        self.base = None
        if p["task"]:
            self.base = BasePerson(p["task"], p["env"], p["patience"], p["progress"])
        else:
            self.setup_arm(p)
        self.state_topic = p["state_topic"]
        self.create_subscription(Float32MultiArray, self.state_topic, self.on_state, 10)
        self.create_subscription(Int32, "actor/episode_step", self.on_step, 10)

    def setup_arm(self, p: dict) -> None:
        lift_z = None
        if p["robot"]:
            scene = load_arm(p["robot"]).scene
            p["cube_half"], p["max_delta_pos"], lift_z = scene.cube_half, scene.max_delta_pos, scene.lift_z
        self.lift_threshold, self.cube_half = p["lift_threshold"], p["cube_half"]
        if p["action_delay"] < 0:
            raise ValueError(f"action_delay must be >= 0 control steps, got {p['action_delay']}")
        self.expert, self.view = expert_from_state(p["max_delta_pos"], p["max_delta_yaw"], p["use_yaw"],
                                                   int(p["action_delay"]))
        if lift_z is not None:
            self.expert.LIFT_Z = TABLE_Z + lift_z   # m; the arm's lift target, within its reach

    def on_state(self, msg: Float32MultiArray) -> None:
        if self.base is not None:
            try:
                self.action, control = self.base.decide(np.asarray(msg.data, dtype=float), self.t)
            except ValueError as e:
                self.get_logger().warning(f"{self.state_topic}: {e}", throttle_duration_sec=5.0)
                return
            drive_pad(self.virtual, self.action, self.map, deadman=control)
            self.publish()
            return
        try:
            self.view.update(np.asarray(msg.data, dtype=float))
        except ValueError as e:
            self.get_logger().warning(f"{self.state_topic}: {e}", throttle_duration_sec=5.0)
            return
        # One expert decision per robot tick (its grasp timing counts ticks); the pad holds it until the next.
        self.action = self.expert.act()
        control = self.wants_control()
        if not control and hasattr(self.expert, "not_sent"):
            self.expert.not_sent()   # the policy drives: the person's lag prediction must not count this action
        drive_pad(self.virtual, self.action, self.map, deadman=control)
        self.publish()

    def on_step(self, msg: Int32) -> None:
        if msg.data < self.t or msg.data == 0:
            (self.base or self.expert).reset()   # a new episode
        self.t = msg.data

    def wants_control(self) -> bool:
        lift = self.view.cube_pos()[2] - (TABLE_Z + self.cube_half)   # the cube above its resting height
        return self.t >= self.patience and lift < self.lift_threshold

    def publish(self) -> None:
        self.last_publish = time.monotonic()
        self.publish_pad()

    def tick(self) -> None:
        # Only a heartbeat: a timed re-publish racing the answer to a new state would hand the actor
        # the answer to the previous one.
        if time.monotonic() - self.last_publish > self.heartbeat:
            self.publish()

    def close(self) -> None:
        self.virtual.unplug()


class BasePerson:
    """The person at a mobile base's pad: `decide(state, t) -> (action [v, w], deadman held)` per published
    state (t: the actor's step in the episode). Takes over for the rest of the episode once `patience`
    steps have not brought the base `progress` m closer to the goal (base-Race has no goal: at `patience`)."""

    def __init__(self, task: str, env: str, patience: int, progress: float):
        import gymnasium as gym

        from roboloop.sim import resolve_task
        from roboloop_ros.conversions import parse_env_option
        sim = gym.make(resolve_task(task), **parse_env_option(env)).unwrapped
        spec = sim.task_spec()
        sim.close()
        self.driver = base_expert_from_spec(spec)
        self.names = spec["observation"]["state"]["names"]
        self.goal = [self.names.index(n) for n in ("goal_x", "goal_y")] if "goal_x" in self.names else None
        self.patience, self.progress = int(patience), float(progress)
        self.reset()

    def reset(self) -> None:
        self.driver.reset()
        self.start_dist: float | None = None
        self.taken = False

    def decide(self, state: np.ndarray, t: int) -> tuple[np.ndarray, bool]:
        if state.shape != (len(self.names),) or not np.all(np.isfinite(state)):
            raise ValueError(f"expected {len(self.names)} finite numbers, got shape {state.shape}")
        action = self.driver.act(state)
        dist = float(np.hypot(*state[self.goal])) if self.goal else 0.0
        if self.start_dist is None or t <= 0:
            self.start_dist = dist
        if not self.taken and t >= self.patience:
            self.taken = self.goal is None or self.start_dist - dist < self.progress
        return action, self.taken


def main(args: list[str] | None = None) -> int:
    return run_node(ScriptedPersonNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
