"""Reward classifier precision and recall on held-out episodes, nominal and under the `shifted_camera`
reality gap, for several training seeds: the recipe of docs/guides/vision.md, end to end.

Recordings (PickCubeVision, 128x128, the scripted expert; episode seeds never shared between sets):

    train    60 episodes from seed 0, half of them with randomized looks (--randomize 0.5)
    train2   80 episodes from seed 100, all with randomized looks (--randomize 1)
    test     30 episodes from seed 1000, nominal
    shifted  30 episodes from seed 2000, the shifted_camera gap (never seen in training)

Each classifier seed trains the five-fold ensemble on train + train2 (its threshold chosen on their
out-of-fold probabilities) and is evaluated on test and shifted. Recordings are kept in --data and
reused. `--no-randomize` records the training sets without randomized looks, to compare.

    python benchmarks/reward_classifier.py [--data runs/reward-classifier] [--seeds 0 1 2] [--no-randomize]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from roboloop.policies.reward_classifier import precision_recall, train_classifier  # noqa: E402
from roboloop.reward_frames import load_frames, merge_frames, record_frames, save_frames  # noqa: E402

SETS = {  # name: (episodes, first seed, gap, randomize share)
    "train": (60, 0, "", 0.5),
    "train2": (80, 100, "", 1.0),
    "test": (30, 1000, "", 0.0),
    "shifted": (30, 2000, "shifted_camera", 0.0),
}


def recording(data: Path, name: str, randomize: bool) -> dict:
    episodes, seed, gap, share = SETS[name]
    share = share if randomize else 0.0
    path = data / f"{name}{'' if share or not SETS[name][3] else '-plain'}.npz"
    if not path.exists():
        t = time.time()
        save_frames(path, record_frames("PickCubeVision", "expert", episodes, seed=seed, gap=gap, randomize=share,
                                        log=lambda s: None))
        print(f"recorded {path} ({time.time() - t:.0f} s)", flush=True)
    return load_frames(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="runs/reward-classifier", help="folder of the recordings (reused)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="classifier training seeds")
    ap.add_argument("--no-randomize", action="store_true", help="training sets without randomized looks")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    train = merge_frames([recording(data, n, not args.no_randomize) for n in ("train", "train2")])
    tests = {n: recording(data, n, True) for n in ("test", "shifted")}
    rows = []
    for seed in args.seeds:
        clf = train_classifier(train["frames"], train["label"], train["episode"], seed=seed, log=lambda s: None)
        row = [seed, clf.threshold]
        for d in tests.values():
            m = precision_recall(clf.probabilities(d["frames"]), d["label"], clf.threshold)
            row += [m.precision, m.recall]
        rows.append(row)
        print(f"seed {seed}: threshold {clf.threshold:.3f}  nominal P/R {row[2]:.3f}/{row[3]:.3f}  "
              f"shifted_camera P/R {row[4]:.3f}/{row[5]:.3f}", flush=True)
    a = np.array(rows)[:, 2:]
    print(f"min over {len(rows)} seeds: nominal P/R {a[:, 0].min():.3f}/{a[:, 1].min():.3f}  "
          f"shifted_camera P/R {a[:, 2].min():.3f}/{a[:, 3].min():.3f}")


if __name__ == "__main__":
    main()
