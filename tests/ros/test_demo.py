"""The README's main command, end to end at a reduced scale: `python -m roboloop.demo` from the PickCube policy
the learning test trains (tests/conftest.py), with small step counts (held-out evals in sim and on the
reality-gap robot, fine-tune through ROS 2 against it with a scripted person, distil a microcontroller
student, export C, run it in QEMU in closed loop, plot, report).

The policy lifts the cube in most sim episodes, so the gap must show: its held-out success on the
miscalibrated robot sits below its success in sim with the 95% intervals apart. What fine-tuning recovers
at full scale (9k robot steps) is measured by `make demo` itself; here the fine-tuning stage only has to
run, every stage must stay audible, and the parts that are exact must be exact: the chip acts as the
exported graph does, the student fits the chip, the report lists every command the demo ran."""
import re
import subprocess
import time

import pytest

from roboloop.checkpoint import load_checkpoint
from roboloop.demo import envelope_around

from .ros_helpers import PY, REPO

SMALL = ["--finetune-steps", "560", "--episodes", "30", "--distill-episodes", "2", "--distill-updates", "200",
         "--qemu-episodes", "2", "--no-compile"]


@pytest.mark.slow
def test_demo_shows_the_gap_runs_every_stage_audibly_and_exports_a_student_the_chip_runs_exactly(
        tmp_path, trained_pick_cube):
    out = tmp_path / "demo"
    p = subprocess.Popen([PY, "-m", "roboloop.demo", "--out", str(out), "--sim-checkpoint",
                          str(trained_pick_cube.checkpoint), *SMALL], cwd=REPO, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines, gaps, last = [], [], time.monotonic()
    for line in p.stdout:   # when each line arrives: no stage may go quiet for long
        now = time.monotonic()
        gaps.append((now - last, line.strip()[:120]))
        last = now
        lines.append(line)
        print(line, end="")   # shown with -s, and in pytest's report when the test fails
    p.wait(timeout=900)
    text = "".join(lines)
    tail = text[-4000:]
    assert p.returncode == 0, tail
    for stage in range(1, 8):
        assert re.search(rf"^== {stage}\. ", text, re.M), f"stage {stage} missing\n{tail}"
    # the demo's heartbeat is 3-5 s; 60 s leaves room for a loaded machine, not for a silent stage
    longest = max(gaps[1:])
    assert longest[0] < 60, f"{longest[0]:.0f} s without output before: {longest[1]}"
    # held-out measurements come with their intervals, and the gap hurts the sim policy by a margin
    assert len(re.findall(r"\d+% \[95% CI \d+%-\d+%, 30 episodes\]", text)) >= 3, tail
    assert "the gap hurts (sim's and the robot's 95% CIs apart): yes" in text, tail
    # the robot's safety node runs an envelope around the action range, which leaves the policy's commands be
    spec = load_checkpoint(trained_pick_cube.checkpoint, load_replay=False).meta["env_spec"]
    limits = re.search(r"launch sim\.launch\.xml .*max_speed:=([0-9.]+) max_accel:=([0-9.]+)", text)
    assert limits and tuple(map(float, limits.groups())) == envelope_around(spec), tail
    # the person's corrections went through the pad -> teleop -> actor path and reached the learner
    assert re.search(r"person drove [1-9]", text), tail
    # the student fits a Cortex-M4, in float32 and int8, and the emulated chip acts as onnxruntime does
    assert "float32 MLP 13 -> 64 -> 64 -> 4" in text and "int8 MLP 13 -> 64 -> 64 -> 4" in text, tail
    assert text.count("fits cortex-m4") == 2, tail
    chip = [float(x) for x in re.findall(r"max \|chip - onnxruntime\| action over \d+ steps: ([0-9.e+-]+)", text)]
    assert len(chip) == 2 and chip[0] <= 1e-4 and chip[1] <= 0.05, chip
    assert len(re.findall(r"QEMU episode \d/2", text)) == 4, tail
    # the report lists every command the demo printed, the figures and the artifacts, which exist
    report = (out / "REPORT.md").read_text()
    for cmd in re.findall(r"^\$ (roboloop .*)$", text, re.M):
        assert cmd in report, cmd
    assert "## Figures" in report and "QEMU closed loop, float32" in report and "instructions per inference" in report
    png = (out / "success.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
    assert (out / "actor.onnx").stat().st_size > 0
    for variant in ("c_float32", "c_int8"):
        assert (out / variant / "policy.c").stat().st_size > 0
        assert any((out / variant / "build").glob("firmware-*.elf"))
