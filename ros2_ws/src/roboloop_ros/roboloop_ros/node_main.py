"""What every roboloop node shares: parameter declaration and `main()` (init, spin, clean shutdown)."""
from __future__ import annotations

import signal
import sys
import threading

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node


def declare_params(node: Node, defaults: dict) -> dict:
    """Declare parameters with defaults and return their values, cast to each default's type.

    Declared with dynamic typing so `control_hz:=50` (an int in YAML) sets a float parameter;
    a value that cannot be cast raises ValueError naming the parameter.
    """
    out = {}
    for name, default in defaults.items():
        value = node.declare_parameter(name, default, ParameterDescriptor(dynamic_typing=True)).value
        if value is None and isinstance(default, list):
            value = []   # an empty list in a parameters file has no type: ROS leaves it unset
        try:
            out[name] = list(value) if isinstance(default, list) else type(default)(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {name!r}: {value!r} is not a {type(default).__name__}") from None
    return out


def _serve(node_cls, args: list[str] | None, body) -> int:
    """Init rclpy, create `node_cls()`, run `body(node)` until shutdown, close cleanly; a construction or
    run error (ValueError, RuntimeError) exits 2 with its message."""
    rclpy.init(args=args)
    # SIGTERM (what launchers send last) shuts down like Ctrl-C, so nodes run their `close()`. Once only:
    # a second SIGTERM landing inside the first shutdown would wait forever on the context's lock.
    def on_sigterm(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        rclpy.try_shutdown()
    signal.signal(signal.SIGTERM, on_sigterm)
    node = None
    try:
        node = node_cls()
        body(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, RuntimeError) as e:
        name = node.get_name() if node is not None else node_cls.__name__
        print(f"{name}: error: {e}", file=sys.stderr, flush=True)
        return 2
    finally:
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def run_node(node_cls, args: list[str] | None = None) -> int:
    """Create `node_cls()` and spin it until shutdown; a construction error exits 2 with its message."""
    return _serve(node_cls, args, rclpy.spin)


def _spin_in_background_and_run(node) -> None:
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    threading.Thread(target=executor.spin, name="ros-executor", daemon=True).start()
    node.run(rclpy.ok)


def run_loop_node(node_cls, args: list[str] | None = None) -> int:
    """For nodes with a control loop: the executor spins callbacks in a background thread while
    `node.run(ok)` runs the loop in the main thread until shutdown (`ok()` turns False)."""
    return _serve(node_cls, args, _spin_in_background_and_run)
