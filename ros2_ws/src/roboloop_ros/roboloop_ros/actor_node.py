"""actor_node: the policy in the ROS 2 loop, streaming its experience to `roboloop learn`.

Subscribes:
  observation/state      std_msgs/Float32MultiArray  the task's state vector (sim_robot publishes it)
  <camera>/image_raw     sensor_msgs/Image           one per image observation of the task (rgb8/bgr8)
  success                std_msgs/Bool               the task's success flag (reward 1 and episode end)
  intervention/active    std_msgs/Bool               teleop_node: the person holds the deadman
  intervention/action    std_msgs/Float32MultiArray  teleop_node: the person's normalized action
  episode_event          std_msgs/String             teleop_node: success / failure / reset buttons
Publishes:
  cmd_vel                geometry_msgs/TwistStamped  end-effector velocity (remap to safety's input)
  gripper_cmd            std_msgs/Float64            -1 open .. +1 closed
  actor/episode_step     std_msgs/Int32              step within the episode, every control step
  /diagnostics           diagnostic_msgs/DiagnosticArray  1 Hz and on every fault
Calls: reset (std_srvs/Trigger) between episodes.

Each new observation/state (the robot publishes one per control tick) triggers one step, so actions
line up with the robot's ticks and wait for no timer: the actor acts (the person's action while they
intervene, else the policy's; while the deadman is held it first waits up to `person_wait` of a control
period for the person's answer to this observation, so the stored pair is (observation, the person's
response to it) and not their response to the previous one), stamps the command with the time it
received the observation (so the driver can measure observation-to-command latency and refuse commands
built on old data), and sends the previous step to the learner as a transition (reward 1 on success,
the person's action and an intervention flag when they drove). Weights come back
from the learner between steps (roboloop.policies.transport). A missing, stale, wrong-sized or
non-finite observation, or a non-finite action, stops the robot (zero twist) and is reported; the
episode's transition chain is cut there, nothing crashes.

Weights: `checkpoint` (a trained checkpoint folder) and/or `learner_address` (weights streamed by the
learner, which take over from the checkpoint's as soon as they arrive). With neither it refuses to start.
"""
from __future__ import annotations

import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Bool, Float32MultiArray, Float64, Int32, String
from std_srvs.srv import Trigger

from roboloop.policies.transport.policy_source import PolicySource
from roboloop_ros.conversions import diagnostics_msg, image_array
from roboloop_ros.node_main import declare_params, run_node


class ActorNode(Node):
    def __init__(self):
        super().__init__("actor")
        p = declare_params(self, {
            "checkpoint": "", "learner_address": "", "keys": "", "key_name": "actor", "insecure": False,
            "actor_name": "ros-actor", "connect_timeout": 60.0,
            "control_hz": 10.0,              # the task's control rate (sets the velocity of one action)
            "real_time_factor": 1.0,         # a sim robot running faster than real time: shorter waits
            "person_wait": 0.4,              # fraction of a control period to wait for the person's answer
            "deterministic": False,          # True: the mean action (evaluation); False: explore
            "obs_timeout": 0.5,              # s; an older observation stops the robot
            "intervention_timeout": 0.3,     # s; an older intervention message no longer counts
            "max_episode_steps": 0,          # 0: the task's
            "reset_timeout": 5.0, "frame_id": "world",
        })
        self.p = p
        self.source = PolicySource(p["checkpoint"], p["learner_address"], p["keys"] or None, p["key_name"],
                                   p["insecure"], p["actor_name"], p["connect_timeout"], self.get_logger().info)
        self.layout = self.source.layout           # obs key -> (shape, dtype); cameras
        self.max_steps = p["max_episode_steps"] or self.source.max_episode_steps
        b = self.source.env.unwrapped
        self.lin_scale = b.max_delta_pos * p["control_hz"]     # normalized action 1 -> m/s
        self.yaw_scale = b.max_delta_yaw * p["control_hz"] if b.use_yaw else None
        self.obs: dict[str, np.ndarray] = {}
        self.obs_time: dict[str, float] = {}
        self.success = False
        self.person_active, self.person_time, self.person_action = False, -np.inf, None
        self.event: str | None = None
        self.prev: tuple | None = None           # (obs, action, intervened) of the last step taken
        self.state, self.t, self.episodes, self.ep_return, self.ep_interventions = "reset", 0, 0, 0.0, 0
        self.reset_future, self.reset_sent = None, 0.0
        self.faults = self.stops = self.steps = self.person_steps = self.late_answers = 0
        self.successes: list[bool] = []
        self.last_fault = ""

        self.pub_cmd = self.create_publisher(TwistStamped, "cmd_vel", 10)
        self.pub_gripper = self.create_publisher(Float64, "gripper_cmd", 10)
        self.pub_step = self.create_publisher(Int32, "actor/episode_step", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_subscription(Float32MultiArray, "observation/state", self.on_state, 10)
        for key in self.source.image_keys:
            self.create_subscription(Image, f"{key}/image_raw", lambda m, k=key: self.on_image(k, m),
                                     qos_profile_sensor_data)
        self.create_subscription(Bool, "success", lambda m: setattr(self, "success", bool(m.data)), 10)
        self.create_subscription(Bool, "intervention/active", self.on_person_active, 10)
        self.create_subscription(Float32MultiArray, "intervention/action", self.on_person_action, 10)
        self.create_subscription(String, "episode_event", lambda m: setattr(self, "event", m.data), 10)
        self.reset_client = self.create_client(Trigger, "reset")
        self.obs_stamp = None                    # ROS time the newest state arrived (stamps the command)
        self.gripper = -1.0                      # the last gripper command sent
        self.awaiting_person = False             # a state arrived while the person drives; their answer is due
        self.first_pending, self.run_since = False, -np.inf   # an episode's first state waits for its images
        self.person_timer = self.create_timer(max(p["person_wait"], 1e-3) / (p["control_hz"] * p["real_time_factor"]),
                                              self.on_person_late)
        self.person_timer.cancel()               # a one-shot, started per observation
        self.create_timer(p["obs_timeout"] / 2.0, self.check_inputs)
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"{self.source.task}: observations {sorted(self.layout)}, "
                               f"{p['control_hz']:g} Hz, {self.source.describe()}")

    # ------------------------------------------------------------------ inputs
    def on_state(self, msg: Float32MultiArray) -> None:
        if self._observe("state", np.asarray(msg.data, dtype=np.float32)):
            self.obs_stamp = self.get_clock().now().to_msg()
            if self.state == "run" and self.person_driving() and self.p["person_wait"] > 0:
                self.awaiting_person = True      # on_person_action or on_person_late steps
                self.person_timer.reset()
            else:
                self.tick()

    def on_image(self, key: str, msg: Image) -> None:
        try:
            seen = self._observe(key, image_array(msg))
        except ValueError as e:
            self.fault(f"{key}/image_raw: {e}")
            return
        if seen and self.first_pending and all(k in self.obs_time for k in self.layout):
            self.tick()

    def _observe(self, key: str, value: np.ndarray) -> bool:
        shape, dtype = self.layout[key]
        if value.shape != shape:
            self.fault(f"{key}: got shape {value.shape}, the policy expects {shape}", cut=True)
            return False
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            self.fault(f"{key}: non-finite values", cut=True)
            return False
        self.obs[key], self.obs_time[key] = value.astype(dtype, copy=False), time.monotonic()
        return True

    def on_person_active(self, msg: Bool) -> None:
        self.person_active, self.person_time = bool(msg.data), time.monotonic()
        if self.awaiting_person and not self.person_active:
            self.tick()   # let go of the deadman: no action follows, the policy takes this step

    def on_person_action(self, msg: Float32MultiArray) -> None:
        a = np.asarray(msg.data, dtype=np.float32)
        if a.shape != (self.source.act_dim,) or not np.all(np.isfinite(a)):
            self.fault(f"intervention/action: expected {self.source.act_dim} finite numbers, got {a.tolist()}")
            return
        self.person_action, self.person_time = np.clip(a, -1.0, 1.0), time.monotonic()
        if self.awaiting_person:
            self.tick()

    def on_person_late(self) -> None:
        """No answer within person_wait: step with the person's latest action."""
        self.person_timer.cancel()
        if self.awaiting_person:
            self.late_answers += 1
            self.tick()

    def person_driving(self) -> bool:
        return self.person_active and self.person_action is not None \
            and time.monotonic() - self.person_time < self.p["intervention_timeout"]

    # ------------------------------------------------------------------ the control loop
    def fresh_obs(self) -> dict[str, np.ndarray] | None:
        now = time.monotonic()
        missing = [k for k in self.layout if now - self.obs_time.get(k, -np.inf) > self.p["obs_timeout"]]
        if missing:
            self.fault(f"no fresh {', '.join(missing)} for {self.p['obs_timeout']} s", cut=True)
            return None
        return {k: v.copy() for k, v in self.obs.items()}

    def check_inputs(self) -> None:
        """Between observations: a robot that went silent (or an episode to reset) is handled here."""
        if self.state == "reset":
            return self._resetting()
        if self.obs_time and time.monotonic() - max(self.obs_time.values()) > self.p["obs_timeout"]:
            self.fresh_obs()   # reports which inputs are stale, stops the robot

    def tick(self) -> None:
        self.awaiting_person = self.first_pending = False
        self.person_timer.cancel()
        if self.state == "reset":
            return self._resetting()
        if any(k not in self.obs_time for k in self.layout) and \
                time.monotonic() - self.run_since < self.p["obs_timeout"]:
            # The episode's first state came before its images (topics are not ordered across
            # subscriptions): step when they arrive (on_image) rather than call them missing.
            self.first_pending = True
            return
        obs = self.fresh_obs()
        if obs is None:
            return
        event, self.event = self.event, None
        if self.prev is not None:
            terminated = self.success or event == "failure"
            reward = 1.0 if self.success else 0.0
            truncated = not terminated and (self.t >= self.max_steps or event == "reset")
            self.ep_return += reward
            done = terminated or truncated
            episode = {"return": self.ep_return, "success": bool(self.success),
                       "intervention_rate": self.ep_interventions / max(1, self.t)} if done else None
            self.source.record(*self.prev, reward, obs, terminated, truncated, episode)
            if done:
                return self._end_episode(bool(self.success))
        person = self.person_driving()
        action = self.person_action.copy() if person else self.source.act(obs, self.p["deterministic"])
        if not np.all(np.isfinite(action)):
            self.fault(f"the policy returned a non-finite action {action.tolist()}", cut=True)
            return
        self.send(action)
        self.prev = (obs, action, person)
        self.steps += 1
        self.person_steps += int(person)
        self.ep_interventions += int(person)
        self.t += 1
        self.pub_step.publish(Int32(data=self.t))

    def send(self, action: np.ndarray, stop: bool = False) -> None:
        if not self.context.ok():
            return   # shutting down: the driver's command_timeout stops the robot
        msg = TwistStamped()
        msg.header.stamp = self.obs_stamp if (self.obs_stamp is not None and not stop) else self.get_clock().now().to_msg()
        msg.header.frame_id = self.p["frame_id"]
        lin = action[:3] * self.lin_scale
        msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z = (float(x) for x in lin)
        if self.yaw_scale is not None:
            msg.twist.angular.z = float(action[3] * self.yaw_scale)
        self.pub_cmd.publish(msg)
        self.gripper = float(action[-1])
        self.pub_gripper.publish(Float64(data=self.gripper))

    def stop(self) -> None:
        """Zero motion, the gripper kept where it was (opening a gripper is not a safe default)."""
        self.stops += 1
        hold = np.zeros(self.source.act_dim, np.float32)
        hold[-1] = self.gripper
        self.send(hold, stop=True)

    def _end_episode(self, success: bool) -> None:
        self.episodes += 1
        self.successes.append(success)
        recent = self.successes[-20:]
        self.get_logger().info(f"episode {self.episodes}: {'success' if success else 'failure'} in {self.t} steps, "
                               f"person drove {self.ep_interventions}; success (last {len(recent)}) "
                               f"{np.mean(recent):.0%}; {self.source.describe()}")
        self.state = "reset"
        self.stop()

    def _resetting(self) -> None:
        now = time.monotonic()
        if self.reset_future is None:
            if not self.reset_client.service_is_ready():
                self.fault("reset service not available", cut=True)
                return
            self.reset_future, self.reset_sent = self.reset_client.call_async(Trigger.Request()), now
        elif self.reset_future.done():
            self.reset_future = None
            self.prev, self.t, self.ep_return, self.ep_interventions = None, 0, 0.0, 0
            self.success, self.event = False, None
            self.obs_time.clear()   # the next episode starts from an observation taken after the reset
            self.state, self.run_since = "run", now
            self.pub_step.publish(Int32(data=0))
        elif now - self.reset_sent > self.p["reset_timeout"]:
            self.reset_future = None
            self.fault(f"reset service did not answer in {self.p['reset_timeout']} s; retrying")

    def fault(self, why: str, cut: bool = False) -> None:
        """Stop the robot, say why; `cut` also drops the pending step (its next observation is unknown)."""
        self.faults += 1
        if cut:
            self.prev = None
        self.stop()
        if why != self.last_fault:
            self.get_logger().warning(f"{why}; robot stopped")
            self.publish_diagnostics("error", why)
        self.last_fault = why

    def publish_diagnostics(self, level: str | None = None, message: str | None = None) -> None:
        if level is None:
            level, message = "ok", f"{self.state}: episode {self.episodes + 1}, step {self.t}"
        recent = self.successes[-20:]
        values = {"steps": self.steps, "episodes": self.episodes, "person_steps": self.person_steps,
                  "person_late_answers": self.late_answers,
                  "success_rate_last20": float(np.mean(recent)) if recent else 0.0, "faults": self.faults,
                  "stops": self.stops, "last_fault": self.last_fault, **self.source.stats()}
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(), self.source.task,
                                              level, message, values))

    def close(self) -> None:
        self.stop()
        self.source.close()


def main(args: list[str] | None = None) -> int:
    return run_node(ActorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
