"""roboloop: a real-world robot RL stack (see README.md and docs/).

Importing roboloop before torch sets OMP_WAIT_POLICY=PASSIVE unless it is already set: torch's OpenMP
threads then sleep at the end of a parallel region instead of spinning. SAC updates run thousands of
small parallel regions; with two threads on a machine whose cores are also busy with other work (the
env, an actor, other jobs), spinning threads wait on each other for whole scheduler time slices, and
an update measured 30-80x slower than with passive waiting. Set OMP_WAIT_POLICY=ACTIVE to spin on a
dedicated machine.
"""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
