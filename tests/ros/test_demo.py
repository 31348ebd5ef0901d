"""The README's main command, end to end: `python -m roboloop.demo` (train in sim, fine-tune through ROS 2
against the reality-gap sim robot with a scripted person, export). Success must go up."""
import re
import subprocess

import pytest

from .ros_helpers import PY, REPO


@pytest.mark.slow
def test_demo_fine_tuning_through_ros_raises_success_and_exports(tmp_path):
    out = tmp_path / "demo"
    p = subprocess.run([PY, "-m", "roboloop.demo", "--out", str(out)], cwd=REPO, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1500)
    tail = p.stdout[-4000:]
    assert p.returncode == 0, tail
    before, after = (int(x) for x in re.search(r"sim-trained (\d+)% -> fine-tuned through ROS 2 (\d+)%", p.stdout).groups())
    print(f"demo: PickCubeGap heavy_cube success {before}% -> {after}%")
    assert after > before, tail
    # the person's corrections went through the pad -> teleop -> actor path and reached the learner
    assert re.search(r"person drove [1-9]", p.stdout), tail
    assert (out / "actor.onnx").stat().st_size > 0
    for variant in ("c_float32", "c_int8"):
        assert any((out / variant).glob("*.c")), f"no C source in {out / variant}"
