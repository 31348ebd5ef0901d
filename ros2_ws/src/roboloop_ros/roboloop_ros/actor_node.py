"""actor_node: the policy in the ROS 2 loop, streaming its experience to `roboloop learn`.

ROS topics -> a ROS-backed driver, observation and teleop source (roboloop_ros.ros_robot) -> `RobotEnv`
with the checkpoint's wrapper stack and `InterventionWrapper` -> the shared actor loop that `roboloop act`
also runs (roboloop.policies.actor_loop). Reward, episode ends and action scaling are the env's.

Subscribes:
  observation/state      std_msgs/Float32MultiArray  the task's state vector (sim_robot publishes it)
  <camera>/image_raw     sensor_msgs/Image           one per image observation of the task (rgb8/bgr8)
  success, failure       std_msgs/Bool               an external outcome, for tasks whose state cannot decide it
  intervention/active    std_msgs/Bool               teleop_node: the person holds the deadman
  intervention/action    std_msgs/Float32MultiArray  teleop_node: the person's normalized action
  episode_event          std_msgs/String             teleop_node: success / failure / reset buttons
Publishes:
  cmd_vel                geometry_msgs/TwistStamped  end-effector velocity, stamped with the observation's arrival
  gripper_cmd            std_msgs/Float64            -1 open .. +1 closed
  actor/episode_step     std_msgs/Int32              step within the episode; 0 at a reset
  /diagnostics           diagnostic_msgs/DiagnosticArray  1 Hz and on every fault
Calls:      reset (std_srvs/Trigger) between episodes.

Weights: `checkpoint` (a trained checkpoint folder) and/or `learner_address` (weights streamed by the
learner, which take over from the checkpoint's as soon as they arrive). With neither it refuses to start.
A missing, stale, wrong-sized or non-finite input stops the robot, is named in /diagnostics, and starts
a new episode; nothing crashes.
"""
from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from std_msgs.msg import Int32

from roboloop.hardware.robot_env import RobotEnv, observation_layout
from roboloop.policies.actor_loop import ActorLoop
from roboloop.policies.reward_classifier import classifier_reward
from roboloop.policies.transport.policy_source import PolicySource
from roboloop.sim.rules import task_rules
from roboloop.wrappers import build_wrappers
from roboloop.wrappers.intervention import InterventionWrapper
from roboloop_ros.conversions import diagnostics_msg
from roboloop_ros.node_main import declare_params, run_loop_node
from roboloop_ros.ros_robot import ResetService, RosDriver, RosObservations, RosTeleop


class ActorNode(Node):
    def __init__(self):
        super().__init__("actor")
        self.last_fault, self.faults = "", 0
        p = declare_params(self, {
            "checkpoint": "",                # checkpoint folder of the policy ("" with a learner: its weights)
            "learner_address": "",           # roboloop learn's endpoint, e.g. tcp://host:5555 ("" = no learner)
            "keys": "",                      # CURVE key folder (`roboloop keys`); required off loopback
            "key_name": "actor",             # this actor's key pair in `keys`
            "insecure": False,               # allow plain TCP to a learner off loopback
            "actor_name": "ros-actor",       # the actor's name in the learner's logs
            "connect_timeout": 60.0,         # s to wait for the learner's welcome
            "control_hz": 0.0,               # the robot's tick rate (0: the task's)
            "real_time_factor": 1.0,         # a sim robot running faster than real time: shorter waits
            "person_wait": 0.4,              # fraction of a control period to wait for the person's answer
            "deterministic": False,          # True: the mean action (evaluation); False: explore
            "obs_timeout": 0.5,              # s; an older observation stops the robot
            "intervention_timeout": 0.3,     # s; an older intervention message no longer counts
            "max_episode_steps": 0,          # 0: the task's
            "reset_timeout": 5.0,            # s to wait for the robot's reset service before retrying
            "frame_id": "world",             # frame of the commanded twists
        })
        self.source = s = PolicySource(p["checkpoint"], p["learner_address"], p["keys"] or None, p["key_name"],
                                       p["insecure"], p["actor_name"], p["connect_timeout"], self.get_logger().info)
        spec = s.env.unwrapped.task_spec()
        hz = p["control_hz"] or spec["control_hz"]
        act = spec["action"]
        self.obs = RosObservations(self, observation_layout(spec))
        if act.get("command") == "base_velocity":   # a mobile base: [v, w] scale to m/s and rad/s directly
            speeds = act["max_linear_mps"], act["max_angular_radps"]
        else:
            speeds = act["max_delta_pos_m"] * hz, act.get("max_delta_yaw_rad", 1.0) * hz
        self.driver = RosDriver(self, self.obs, *speeds, p["frame_id"])
        self.teleop = RosTeleop(self, self.obs, s.act_dim, p["person_wait"] / (hz * p["real_time_factor"]),
                                p["intervention_timeout"], self.fault)
        self.pub_step = self.create_publisher(Int32, "actor/episode_step", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.reset_service = ResetService(self, p["reset_timeout"])
        robot = RobotEnv(spec, self.driver, self.obs, task_rules(spec["task"], s.how["env"]), reset=self.reset_robot,
                         max_episode_steps=p["max_episode_steps"] or s.max_episode_steps,
                         obs_timeout_s=p["obs_timeout"], control_hz=hz)
        env = classifier_reward(build_wrappers(robot, s.how["wrappers"], training=False),
                                s.how.get("reward_classifier", ""))
        env = InterventionWrapper(env, self.teleop)
        self.loop = ActorLoop(env, s.act, self.record, p["deterministic"],
                              on_step=lambda lp: self.pub_step.publish(Int32(data=lp.t)),
                              on_episode=self.log_episode, on_fault=lambda lp, why: self.fault(why))
        self.create_timer(1.0, self.publish_diagnostics)
        self.get_logger().info(f"{s.task}: observations {sorted(robot.layout)}, {hz:g} Hz, wrappers "
                               f"{[w['type'] for w in s.how['wrappers'] or []]}, {s.describe()}")

    def run(self, ok) -> None:
        self.loop.run(stop=lambda: not ok())

    def reset_robot(self, seed: int | None) -> None:
        self.reset_service(seed)
        self.pub_step.publish(Int32(data=0))   # a new episode (the scripted person restarts its expert)

    def record(self, tr, episode) -> None:
        self.source.record(tr.obs, tr.action, tr.intervened, tr.reward, tr.next_obs, tr.terminated,
                           tr.truncated, episode)

    def log_episode(self, loop: ActorLoop, success: bool) -> None:
        self.get_logger().info(f"episode {loop.episodes}: {'success' if success else 'failure'} in {loop.t} steps, "
                               f"person drove {loop.ep_person}; success (last {len(loop.recent)}) "
                               f"{loop.success_rate:.0%}; {self.source.describe()}")

    def fault(self, why: str) -> None:
        """Stop the robot and say why (once per distinct fault)."""
        self.driver.stop()
        self.faults += 1
        if why != self.last_fault:
            self.get_logger().warning(f"{why}; robot stopped")
            self.publish_diagnostics("error", why)
        self.last_fault = why

    def publish_diagnostics(self, level: str | None = None, message: str | None = None) -> None:
        lp = self.loop
        if level is None:
            level, message = "ok", f"episode {lp.episodes + 1}, step {lp.t}"
        values = {"steps": lp.steps, "episodes": lp.episodes, "person_steps": lp.person_steps,
                  "person_late_answers": self.teleop.late_answers, "success_rate_last20": lp.success_rate,
                  "faults": self.faults, "stops": self.driver.stops, "last_fault": self.last_fault,
                  **self.source.stats()}
        self.pub_diag.publish(diagnostics_msg(self.get_clock().now().to_msg(), self.get_name(), self.source.task,
                                              level, message, values))

    def close(self) -> None:
        self.driver.stop()
        self.source.close()


def main(args: list[str] | None = None) -> int:
    return run_loop_node(ActorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
