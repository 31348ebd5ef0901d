"""Pretrain the image encoder that roboloop ships (policies/weights/pickcube_encoder.pt).

Renders domain-randomized PickCube scenes (roboloop/encoder_data.py: colours, lights, camera poses,
distractors) and trains the keypoint backbone (policies/encoders.py), shared by the front and wrist
cameras, to predict the end effector's and the cube's positions and their difference (9 targets,
metres). Objective: mean squared error on standardized targets of two heads, an MLP on both cameras'
features and a linear head on the front camera's alone (so positions are linearly decodable from
single-camera features); frames get DrQ random shifts (4 px). Held-out episodes (other seeds,
randomized, and nominal-look ones) measure the accuracy, which is stored with the weights.

    python scripts/pretrain_encoder.py [--episodes 400] [--every 4] [--workers 2] [--minutes 8]

About 15 minutes on 2 CPU cores shared with other jobs (rendering 6.5 of them).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from roboloop.policies.encoders import SHIPPED_WEIGHTS, WEIGHTS_FORMAT, KeypointBackbone
from roboloop.policies.networks import random_shift


def _render(job: tuple[int, int, float, int]) -> dict:
    from roboloop.encoder_data import render_dataset
    torch.set_num_threads(1)
    episodes, seed, share, every = job
    return render_dataset(episodes, seed, randomize_share=share, every=every)


def render(episodes: int, seed: int, workers: int, share: float, every: int) -> dict[str, np.ndarray]:
    per = [episodes // workers + (i < episodes % workers) for i in range(workers)]
    jobs = [(n, seed * 1000 + i, share, every) for i, n in enumerate(per) if n]
    if workers == 1:
        parts = [_render(j) for j in jobs]
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_render, jobs)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


class Pretrainer(nn.Module):
    """The backbone and the two regression heads of the objective (only the backbone ships)."""

    def __init__(self, channels: int = 32):
        super().__init__()
        self.backbone = KeypointBackbone(channels)
        f = self.backbone.out_dim
        self.joint = nn.Sequential(nn.Linear(2 * f, 256), nn.ReLU(), nn.Linear(256, 9))
        self.front = nn.Linear(f, 6)

    def forward(self, front: torch.Tensor, wrist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ff, fw = self.backbone(front), self.backbone(wrist)
        return self.joint(torch.cat([ff, fw], -1)), self.front(ff)


def errors_cm(model: Pretrainer, data: dict, mean: torch.Tensor, std: torch.Tensor) -> dict[str, float]:
    """RMS error (cm) of the joint head per target group on `data`."""
    with torch.no_grad():
        preds = torch.cat([model(torch.as_tensor(data["front"][i:i + 256]), torch.as_tensor(data["wrist"][i:i + 256]))[0]
                           for i in range(0, len(data["target"]), 256)])
    err = (preds * std + mean - torch.as_tensor(data["target"])) * 100.0
    rms = err.square().mean(0).sqrt()
    return {"ee_pos_rms_cm": float(rms[0:3].norm()), "cube_pos_rms_cm": float(rms[3:6].norm()),
            "cube_minus_ee_rms_cm": float(rms[6:9].norm())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=400, help="training episodes to render")
    p.add_argument("--every", type=int, default=4, help="render every this many control steps (and at reset)")
    p.add_argument("--val-episodes", type=int, default=60, help="held-out episodes (half randomized, half nominal)")
    p.add_argument("--workers", type=int, default=2, help="rendering processes")
    p.add_argument("--minutes", type=float, default=8.0, help="training time budget")
    p.add_argument("--batch", type=int, default=32, help="scenes per gradient step (both cameras each)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam step size, cosine-decayed over the time budget")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default="", help="cache the rendered data in this .npz (reused when it exists)")
    p.add_argument("--out", default=str(SHIPPED_WEIGHTS))
    args = p.parse_args()
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    cache = Path(args.data) if args.data else None
    if cache and cache.exists():
        z = np.load(cache)
        train = {k[6:]: z[k] for k in z.files if k.startswith("train/")}
        val_rand = {k[9:]: z[k] for k in z.files if k.startswith("val_rand/")}
        val_nom = {k[8:]: z[k] for k in z.files if k.startswith("val_nom/")}
    else:
        train = render(args.episodes, args.seed + 1, args.workers, 0.7, args.every)
        half = max(1, args.val_episodes // 2)
        val_rand = render(half, args.seed + 101, args.workers, 1.0, args.every)
        val_nom = render(half, args.seed + 202, args.workers, 0.0, args.every)
        if cache:
            np.savez(cache, **{f"train/{k}": v for k, v in train.items()},
                     **{f"val_rand/{k}": v for k, v in val_rand.items()}, **{f"val_nom/{k}": v for k, v in val_nom.items()})
    render_s = time.perf_counter() - t0
    n = len(train["target"])
    print(f"rendered {n} training frames, {len(val_rand['target'])} + {len(val_nom['target'])} held-out "
          f"in {render_s:.0f} s", flush=True)

    target = torch.as_tensor(train["target"])
    mean, std = target.mean(0), target.std(0) + 1e-3
    model = Pretrainer()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    front, wrist = torch.as_tensor(train["front"]), torch.as_tensor(train["wrist"])
    z = (target - mean) / std
    t1, epoch, batch, budget = time.perf_counter(), 0, args.batch, args.minutes * 60
    while time.perf_counter() - t1 < budget:
        perm = torch.randperm(n)
        total = 0.0
        for i in range(0, n - batch + 1, batch):
            idx = perm[i:i + batch]
            for group in opt.param_groups:
                group["lr"] = args.lr * 0.5 * (1 + np.cos(np.pi * min(1.0, (time.perf_counter() - t1) / budget)))
            joint, lin = model(random_shift(front[idx]), random_shift(wrist[idx]))
            loss = (joint - z[idx]).square().mean() + (lin - z[idx, :6]).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            if time.perf_counter() - t1 > budget:
                break
        epoch += 1
        print(f"epoch {epoch}: loss {total / n:.4f}  held-out {errors_cm(model, val_rand, mean, std)}", flush=True)
    model.eval()
    accuracy = {"randomized": errors_cm(model, val_rand, mean, std), "nominal": errors_cm(model, val_nom, mean, std)}
    meta = {"channels": model.backbone.channels, "image_size": 128, "feature_dim": model.backbone.out_dim,
            "objective": "MSE of standardized [ee_pos, cube_pos, cube - ee] (m), MLP head on both cameras' "
                         "features + linear head on the front camera's; DrQ random shifts of 4 px",
            "data": f"{n} frames from {args.episodes} PickCube episodes (scripted expert with noise 0.1/0.3/0.6 or "
                    f"random actions; every {args.every}th step), 70% domain-randomized (colours, lights, camera poses, distractors)",
            "held_out": f"{len(val_rand['target'])} randomized and {len(val_nom['target'])} nominal frames of other seeds",
            "accuracy": accuracy, "epochs": epoch, "seed": args.seed,
            "minutes": round((time.perf_counter() - t0) / 60, 1)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": WEIGHTS_FORMAT, "backbone": model.backbone.state_dict(), "meta": meta}, out)
    print(f"saved {out} ({out.stat().st_size / 1e6:.2f} MB): {meta}")


if __name__ == "__main__":
    main()
