"""The `main()` every roboloop node shares: init, spin, clean shutdown on Ctrl-C / SIGTERM."""
from __future__ import annotations

import signal
import sys

import rclpy
from rclpy.executors import ExternalShutdownException


def run_node(node_cls, args: list[str] | None = None) -> int:
    """Create `node_cls()` and spin it until shutdown; a construction error exits 2 with its message."""
    rclpy.init(args=args)
    # SIGTERM (what launchers send last) shuts down like Ctrl-C, so nodes run their `close()`.
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    node = None
    try:
        node = node_cls()
        rclpy.spin(node)
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
