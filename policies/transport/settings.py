"""Settings of the actor-learner split (`transport.*` keys of TrainConfig)."""
from __future__ import annotations

from dataclasses import dataclass

from roboloop.policies.ranges import check_ranges


@dataclass
class TransportConfig:
    """Batching, weight publishing, liveness and durability of `roboloop learn` / `roboloop act`."""

    batch_steps: int = 16                 # an actor sends its transitions every batch_steps steps ...
    batch_ms: float = 100.0               # ... or batch_ms milliseconds, whichever comes first
    publish_every: int = 20               # learner updates between weight broadcasts to the actors
    updates_per_step: float = 1.0         # learner update calls (utd_ratio critic steps each) per received
                                          # transition, at most; 0 = no cap (train flat out, as SERL does)
    heartbeat_s: float = 0.5              # actor ping period; the learner answers with its weight version
    peer_timeout_s: float = 10.0          # silence after which a peer counts as gone (logged; actors resend)
    ack_timeout_s: float = 5.0            # an actor resends a batch not acknowledged within this time
    send_window: int = 64                 # batches an actor keeps in flight (sent, not yet acknowledged)
    max_unacked: int = 4_000              # batches an actor holds for resending; beyond it the oldest drop
    queue_steps: int = 20_000             # control loop -> sender queue; beyond it the oldest steps drop
    compress_images: bool = False         # zlib the camera frames on the wire (saves bandwidth, costs CPU)
    fsync: bool = True                    # learner fsyncs the store before acknowledging (see store.py)
    max_message_mb: int = 256             # larger messages are refused before they are allocated
    max_peers: int = 256                  # actor sessions the learner tracks; the least recently heard beyond
                                          # it are forgotten (their data still counts, see transport/peers.py)
    learner_nice: int = 10                # the learner lowers its CPU priority by this much (os.nice), so
                                          # actors on the same machine keep their control rate

    def __post_init__(self) -> None:
        check_ranges(self, {"batch_steps": (1, 100_000), "batch_ms": (0.0, None), "publish_every": (1, None),
                            "updates_per_step": (0.0, None), "heartbeat_s": (0.0, None), "peer_timeout_s": (0.0, None),
                            "ack_timeout_s": (0.0, None), "send_window": (1, None), "max_unacked": (1, None),
                            "queue_steps": (1, None), "max_message_mb": (1, 2047), "max_peers": (1, None),
                            "learner_nice": (0, 19)},
                     open_low=("batch_ms", "heartbeat_s", "peer_timeout_s", "ack_timeout_s"))
