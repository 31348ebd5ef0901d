"""Aggregate statistics over seeds and tasks, as "Deep RL at the Edge of the Statistical Precipice"
(Agarwal et al., 2021) recommends, computed with its library `rliable`.

Scores are matrices of shape (runs, tasks) per algorithm, normalized so that 1 is the best possible
(a success rate is already). Every point estimate comes with a 95% stratified bootstrap confidence
interval (runs are resampled within each task). `rliable` ships in the `bench` extra
(`pip install -c constraints.txt -e .[bench]`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

METRICS = ("IQM", "mean", "median", "optimality gap")


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% confidence interval."""

    point: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.point:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def as_dict(self) -> dict[str, float]:
        return {"point": self.point, "low": self.low, "high": self.high}


def _rliable():
    try:
        from rliable import library, metrics
    except ImportError as e:
        raise ImportError(f"roboloop's statistics need rliable ({e}); install the bench extra: "
                          "pip install -c constraints.txt -e '.[bench]'") from None
    return library, metrics


def _interval_estimates(data: dict, fn, reps: int, seed: int):
    """rliable's stratified bootstrap, reproducible from `seed`."""
    library, _ = _rliable()
    with warnings.catch_warnings():
        # arch (under rliable) deprecates the RandomState argument that rliable still passes on
        warnings.filterwarnings("ignore", message="random_state is deprecated", category=FutureWarning)
        return library.get_interval_estimates(data, fn, reps=reps, random_state=np.random.RandomState(seed))


def _matrix(scores: np.ndarray, name: str) -> np.ndarray:
    m = np.asarray(scores, dtype=np.float64)
    if m.ndim == 1:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] < 1 or m.shape[1] < 1:
        raise ValueError(f"scores of {name!r} must be a (runs, tasks) matrix, got shape {np.shape(scores)}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"scores of {name!r} hold non-finite values")
    return m


def aggregate(scores: Mapping[str, np.ndarray], reps: int = 2000, seed: int = 0) -> dict[str, dict[str, Interval]]:
    """{algorithm: {"IQM" | "mean" | "median" | "optimality gap": Interval}} over runs and tasks.

    scores[alg]: (runs, tasks), 1 = best. The optimality gap is the mean shortfall below 1 (lower is better).
    """
    _, metrics = _rliable()
    data = {k: _matrix(v, k) for k, v in scores.items()}

    def fn(x: np.ndarray) -> np.ndarray:
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_mean(x), metrics.aggregate_median(x),
                         metrics.aggregate_optimality_gap(x, 1.0)])

    points, cis = _interval_estimates(data, fn, reps, seed)
    return {alg: {name: Interval(float(points[alg][i]), float(cis[alg][0, i]), float(cis[alg][1, i]))
                  for i, name in enumerate(METRICS)} for alg in data}


def probability_of_improvement(x: np.ndarray, y: np.ndarray, reps: int = 2000, seed: int = 0) -> Interval:
    """P(X > Y): the probability that a run of X scores higher than a run of Y on the same task (ties
    count half), averaged over tasks. x: (runs_x, tasks), y: (runs_y, tasks)."""
    _, metrics = _rliable()
    x, y = _matrix(x, "x"), _matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"probability of improvement needs the same tasks: x has {x.shape[1]}, y has {y.shape[1]}")
    points, cis = _interval_estimates({"x,y": (x, y)}, metrics.probability_of_improvement, reps, seed)
    low, high = np.ravel(cis["x,y"])
    return Interval(float(np.ravel(points["x,y"])[0]), float(low), float(high))


def performance_profiles(scores: Mapping[str, np.ndarray], taus: Sequence[float], reps: int = 2000,
                         seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{alg: (fraction of runs scoring above each tau, CI low, CI high)}, each (len(taus),)."""
    library, _ = _rliable()
    data = {k: _matrix(v, k) for k, v in scores.items()}
    state = np.random.get_state()   # rliable's profile bootstrap draws from numpy's global generator
    np.random.seed(seed)
    try:
        points, cis = library.create_performance_profile(data, np.asarray(taus, dtype=np.float64), reps=reps)
    finally:
        np.random.set_state(state)
    return {alg: (np.asarray(points[alg]), np.asarray(cis[alg][0]), np.asarray(cis[alg][1])) for alg in data}


def iqm_curve(curves: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IQM over runs at every point of a learning curve, with 95% bootstrap CIs.

    curves: (runs, points) for one task, or (runs, tasks, points). Returns (iqm, low, high), each (points,).
    """
    _, metrics = _rliable()
    c = np.asarray(curves, dtype=np.float64)
    if c.ndim == 2:
        c = c[:, None, :]
    if c.ndim != 3:
        raise ValueError(f"curves must be (runs, points) or (runs, tasks, points), got shape {np.shape(curves)}")

    def fn(x: np.ndarray) -> np.ndarray:   # x: (runs, tasks, points)
        return np.array([metrics.aggregate_iqm(x[..., t]) for t in range(x.shape[-1])])

    points, cis = _interval_estimates({"curve": c}, fn, reps, seed)
    return np.asarray(points["curve"]), np.asarray(cis["curve"][0]), np.asarray(cis["curve"][1])


def iqm_interval(values: np.ndarray, reps: int = 2000, seed: int = 0) -> Interval:
    """IQM of one number per run (e.g. env steps to a success bar) with its 95% bootstrap CI."""
    return aggregate({"x": np.asarray(values, dtype=np.float64)[:, None]}, reps, seed)["x"]["IQM"]
