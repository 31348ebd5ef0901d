"""Learner throughput: roboloop SAC gradient updates/s vs stable-baselines3 SAC and SBX SAC, side by side.

Same problem for all: PickCube (state) sizes (13-dim observation, 4-dim action), 256x256 networks,
batch 256, 2 critics, replay sampling included in the timing, float32 matmuls on every side (roboloop
with `sac.matmul_precision=float32`, not its bf16 default), and the same thread count for torch and
XLA (`--threads`, default: the CPU cores). Both are printed, with the load average. roboloop's default
compiles each update step (SACConfig.compile); its one-off compile time is printed at warm-up and left
out of the rates, and eager variants are measured too. SBX (SB3's JAX version) runs "unfused", one
jitted update per call as its SAC does at one update per env step, and "fused", all of a round's
updates in one jitted loop (its `train(gradient_steps=n)`, what `train_freq=n, gradient_steps=n` does).
Rounds alternate between the learners so machine load affects all alike; each round's rate is divided
by the same round's SB3 (and SBX fused) rate and the median of those ratios is reported, from the wall
clock and from this process's CPU time. Every learner runs with the allocator setting roboloop's
learner processes use (policies/allocator.py: freed heap pages are kept instead of being faulted in
again; `--glibc-malloc-defaults` leaves glibc alone).

    python benchmarks/learner_throughput.py [--rounds 5] [--updates 300] [--threads N] [--profile]

--profile prints where roboloop's update time goes and exits: the matmul floor (the update's matmul
FLOPs over the GFLOP/s of a bare 256x256 MLP forward+backward), the CPU time of each part of an eager
update (timers wrapped around the agent's calls) with and without the allocator setting and with the
per-tensor Adam loop, and a compiled update by kind of work (torch.profiler with Inductor's kernels
named). What it found (1 thread, load average 7-9 on the 2 cores, CPU ms per update):

    matmul floor       570 MFLOP per update. On an idle core (load 0.6) a bare 256x256 matmul ran at
                       163 GFLOP/s and the MLP forward+backward at 102 -> 3.5-5.6 ms (180-285
                       updates/s); under load 7-12 the MLP ran at 57-90 GFLOP/s (6.4-10 ms)
    compiled           8.3 ms: matmuls 50%, Inductor's fused kernels (LayerNorm, elementwise, Adam)
                       27%, graph wrapper + Dynamo guards + AOT runtime (Python) 15%, copies of
                       mutated parameters back into place 7%, sampling and randn 2%; one graph per
                       update, no graph breaks, no recompiles (TORCH_LOGS=graph_breaks,recompiles)
    eager, before      (per-tensor Adam, glibc thresholds pinned at 128 KiB; its adaptive default gave
                       27-29 ms, 1,400-1,800 faults in an earlier run)
                       37.5 ms, 7,050 page faults per update: actor loss fwd+bwd 35%, critic loss
                       fwd+bwd 34%, target critics 10%, critic Adam 9%, actor Adam 4%, glue 3%,
                       pi(s') 3%, sampling 1%, temperature 1%, Polyak 0.2%
    eager, after       16.3 ms, 55 page faults: actor loss fwd+bwd 38%, critic loss fwd+bwd 32%,
                       target critics 8%, critic Adam 7%, pi(s') 4%, actor Adam 4%, glue 4%,
                       sampling 2%, temperature 1%, Polyak 0.2%

Kept: Adam over all tensors with torch._foreach_* ops (bit-identical; its critic step 3.4 -> 1.1-1.9 ms
eager, neutral compiled) and retained freed memory (eager 29 -> 16 ms CPU per update). Tried and
dropped: Inductor's C++ graph wrapper (cpp_wrapper: same speed, 3x the compile time); the ensemble as
per-member mm instead of bmm (bmm already runs at mm's GFLOP/s); LayerNorm as group_norm (2.4x
slower). Left: the compiled update is ~2.4x its matmul floor; what remains is elementwise and
LayerNorm work Inductor does not fuse into the matmuls (27%) and per-call Python (15%): fusing several
updates into one call (as SBX fused does) would save at most the 15%; the eager path pays for
LayerNorm on the critics (eager without LayerNorm, SB3's network, is level with SB3).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _threads_from_argv() -> int:
    """--threads, read before torch and jax are imported (XLA reads its flags once, at import)."""
    if "--threads" in sys.argv:
        return int(sys.argv[sys.argv.index("--threads") + 1])
    return os.cpu_count() or 1


THREADS = _threads_from_argv()
if THREADS == 1:   # XLA's CPU backend uses every core unless told otherwise
    os.environ["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from roboloop.policies.allocator import retain_freed_memory  # noqa: E402
from roboloop.policies.replay import ReplayBuffer, to_torch  # noqa: E402
from roboloop.policies.sac import SAC, SACConfig  # noqa: E402

OBS_DIM, ACT_DIM, BATCH, FILL = 13, 4, 256, 20_000


class _SizedEnv(gym.Env):
    """Only carries the spaces SB3 needs to build its networks; never stepped."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (ACT_DIM,), np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros(OBS_DIM, np.float32), {}

    def step(self, action):
        return np.zeros(OBS_DIM, np.float32), 0.0, False, False, {}


def random_transitions(rng: np.random.Generator):
    obs = rng.normal(size=(FILL + 1, OBS_DIM)).astype(np.float32)
    act = rng.uniform(-1, 1, size=(FILL, ACT_DIM)).astype(np.float32)
    rew = rng.normal(size=FILL).astype(np.float32)
    done = rng.random(FILL) < 0.02
    return obs, act, rew, done


def _filled(model, data):
    model._setup_learn(total_timesteps=1)  # builds the logger that train() writes to
    obs, act, rew, done = data
    for i in range(FILL):
        model.replay_buffer.add(obs[i:i + 1], obs[i + 1:i + 2], act[i:i + 1], rew[i:i + 1], done[i:i + 1], [{}])
    return model


def make_sb3(data):
    from stable_baselines3 import SAC as SB3SAC
    model = _filled(SB3SAC("MlpPolicy", _SizedEnv(), batch_size=BATCH, buffer_size=FILL + 10, learning_starts=0,
                           policy_kwargs=dict(net_arch=[256, 256], n_critics=2), device="cpu", verbose=0, seed=0),
                    data)
    return lambda n: model.train(gradient_steps=n, batch_size=BATCH)


def make_sbx(data, fused: bool):
    from sbx import SAC as SBXSAC
    model = _filled(SBXSAC("MlpPolicy", _SizedEnv(), batch_size=BATCH, buffer_size=FILL + 10, learning_starts=0,
                           policy_kwargs=dict(net_arch=[256, 256], n_critics=2), verbose=0, seed=0), data)

    def train(n: int) -> None:
        if fused:
            model.train(gradient_steps=n, batch_size=BATCH)
        else:
            for _ in range(n):
                model.train(gradient_steps=1, batch_size=BATCH)
    return train


def roboloop_agent(data, layer_norm: bool = True, compile: bool = True, foreach: bool = True):
    """A float32 roboloop SAC and a replay buffer holding `data`."""
    cfg = SACConfig(hidden_dims=(256, 256), num_critics=2, batch_size=BATCH, critic_layer_norm=layer_norm,
                    compile=compile, matmul_precision="float32")
    agent = SAC({"state": (OBS_DIM,)}, ACT_DIM, cfg)
    for opt in (agent.critic_opt, agent.actor_opt, agent.alpha_opt):
        opt.foreach = foreach
    buf = ReplayBuffer({"state": (OBS_DIM,)}, {"state": np.float32}, ACT_DIM, FILL + 10)
    obs, act, rew, done = data
    for i in range(FILL):
        buf.add({"state": obs[i]}, act[i], rew[i], {"state": obs[i + 1]}, bool(done[i]), False)
    return agent, buf


def make_roboloop(data, **kw):
    agent, buf = roboloop_agent(data, **kw)
    rng = np.random.default_rng(0)

    def train(n: int) -> None:
        for _ in range(n):
            agent.update([to_torch(buf.sample(BATCH, rng))])
    return train


# ------------------------------------------------------------------------------------------- profile
def update_matmul_flops(hidden: int = 256, critics: int = 2) -> float:
    """Matmul FLOPs of one roboloop SAC update (utd 1): the products a 256x256 SAC must compute.

    target: pi(s') forward + E target critics forward; critic: E critics forward, weight gradients and
    the input gradients of all but the first layer; actor: pi(s) forward, E critics forward and their
    input gradients down to the action, pi's weight gradients and its input gradients but the first layer.
    """
    pi = [(OBS_DIM, hidden), (hidden, hidden), (hidden, 2 * ACT_DIM)]
    q = [(OBS_DIM + ACT_DIM, hidden), (hidden, hidden), (hidden, 1)]
    fwd = lambda layers: 2 * BATCH * sum(i * o for i, o in layers)  # noqa: E731
    target = fwd(pi) + critics * fwd(q)
    critic = critics * (2 * fwd(q) + fwd(q[1:]))
    actor = 2 * fwd(pi) + fwd(pi[1:]) + 2 * critics * fwd(q)
    return float(target + critic + actor)


def cpu_ms(fn, n: int) -> float:
    """CPU time (ms) of one fn() call, median of 3 runs of n calls (CPU time, not wall: other processes
    on the machine slow the wall clock but not, to first order, the CPU time this one uses)."""
    runs = []
    for _ in range(3):
        t = time.process_time()
        for _ in range(n):
            fn()
        runs.append((time.process_time() - t) / n * 1e3)
    return statistics.median(runs)


def matmul_rate() -> float:
    """GFLOP/s of a bare 256x256 MLP forward + backward at batch 256 (this CPU's matmul-bound speed)."""
    net = torch.nn.Sequential(torch.nn.Linear(OBS_DIM + ACT_DIM, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 1))
    x = torch.randn(BATCH, OBS_DIM + ACT_DIM)

    def step():
        net.zero_grad(set_to_none=True)
        net(x).sum().backward()
    for _ in range(20):
        step()
    layers = [(OBS_DIM + ACT_DIM, 256), (256, 256), (256, 1)]
    flops = 2 * BATCH * (2 * sum(i * o for i, o in layers) + sum(i * o for i, o in layers[1:]))
    return flops / cpu_ms(step, 200) / 1e6


class _ExclusiveTimers:
    """CPU time per label, exclusive of nested timed calls."""

    def __init__(self):
        self.total: dict[str, float] = {}
        self._stack: list[float] = []

    def wrap(self, label, fn, when=lambda *a, **k: True):
        def run(*args, **kwargs):
            if not when(*args, **kwargs):
                return fn(*args, **kwargs)
            self._stack.append(0.0)
            t = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dt = time.process_time() - t
                self.total[label] = self.total.get(label, 0.0) + dt - self._stack.pop()
                if self._stack:
                    self._stack[-1] += dt
        return run


def eager_breakdowns(data, variants: dict[str, dict], rounds: int, n: int) -> dict[str, dict[str, float]]:
    """ms of CPU time per eager update by component, for each variant (roboloop_agent keywords), measured
    in alternating rounds (medians). The agents' calls are wrapped with timers; the library is unchanged."""
    import resource

    import roboloop.policies.sac as sac_module
    current: list[_ExclusiveTimers] = []
    orig_gav = sac_module.grad_and_value

    def grad_and_value(f, **k):  # the critic's loss is differentiated first in every update, then the actor's
        timers = current[0]
        timers.calls += 1
        label = "critic loss forward + backward" if timers.calls % 2 else "actor loss forward + backward (through the critics)"
        return timers.wrap(label, orig_gav(f, **k))

    runs = {}
    for name, kw in variants.items():
        kw = dict(kw)
        allocator = kw.pop("allocator", None)
        agent, buf = roboloop_agent(data, compile=False, **kw)
        timers, rng = _ExclusiveTimers(), np.random.default_rng(0)
        timers.calls = 0
        agent.actor.sample = timers.wrap("target: pi(s') sample", agent.actor.sample)
        agent.critic_target.forward = timers.wrap("target: target critics forward", agent.critic_target.forward)
        agent.critic_opt.step = timers.wrap("critic Adam + grad clip", agent.critic_opt.step)
        agent.actor_opt.step = timers.wrap("actor Adam + grad clip", agent.actor_opt.step)
        agent.alpha_opt.step = timers.wrap("temperature Adam", agent.alpha_opt.step)
        sample = timers.wrap("replay sampling (numpy gather, to torch)", lambda b=buf, r=rng: to_torch(b.sample(BATCH, r)))
        update = timers.wrap("whole update", lambda a=agent, s=sample: a.update([s()]))
        polyak = lambda a=agent: torch._foreach_lerp_(a._target, a._online, a.cfg.tau)  # noqa: E731
        runs[name] = (timers, update, polyak, allocator)
    per_round: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    sac_module.grad_and_value = grad_and_value
    try:
        for r in range(rounds + 1):  # round 0 warms up
            for name, (timers, update, polyak, allocator) in runs.items():
                current[:] = [timers]
                if allocator is not None:
                    allocator()
                    update()  # the first update after a change of thresholds settles the heap
                timers.total.clear()
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                for _ in range(n):
                    update()
                faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / n
                out = {k: v / n * 1e3 for k, v in timers.total.items()}
                # Polyak runs inside the critic step, unwrapped: timed on its own and taken out of the rest.
                out["Polyak target update (foreach lerp)"] = cpu_ms(polyak, n)
                out["Python glue (the rest)"] = out.pop("whole update") - out["Polyak target update (foreach lerp)"]
                out["minor page faults per update"] = faults
                if r:
                    per_round[name].append(out)
    finally:
        sac_module.grad_and_value = orig_gav
    return {name: {k: statistics.median(o[k] for o in outs) for k in outs[0]} for name, outs in per_round.items()}


def compiled_breakdown(data, n: int) -> tuple[dict[str, float], float]:
    """Shares of a compiled update's time (torch.profiler, wall clock) by kind of work, and its CPU ms."""
    import torch._inductor.config as inductor_config
    from torch.profiler import ProfilerActivity, profile
    with inductor_config.patch({"cpp.enable_kernel_profile": True}):  # names each generated kernel
        train = make_roboloop(data)
        train(10)
        total = cpu_ms(lambda: train(n), 1) / n
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            train(n)
    kinds = {"matmuls (mm, addmm, bmm, baddbmm; oneDNN/MKL)": 0.0, "Inductor's fused C++ kernels (elementwise, "
             "LayerNorm, Adam, reductions)": 0.0, "copies (aten::copy_)": 0.0,
             "graph wrapper, Dynamo guards, AOT runtime (Python)": 0.0, "outside the graph (sampling, randn)": 0.0}
    names = list(kinds)
    for e in prof.key_averages():
        if e.key in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"):
            k = names[0]
        elif e.key.startswith("graph_"):
            k = names[1]
        elif e.key == "aten::copy_":
            k = names[2]
        elif e.key.startswith(("## Call CompiledFxGraph", "TorchDynamo", "Torch-Compiled Region", "AOTDispatcher",
                               "Pregraph")):
            k = names[3]
        else:
            k = names[4]
        kinds[k] += e.self_cpu_time_total
    profiled = sum(kinds.values())
    return {k: v / profiled for k, v in kinds.items()}, total


def profile_report(data) -> None:
    rate = matmul_rate()
    flops = update_matmul_flops()
    print(f"matmul floor: {flops / 1e6:.0f} MFLOP of matmuls per update; a bare 256x256 MLP forward+backward at "
          f"batch 256 runs at {rate:.0f} GFLOP/s on one thread -> {flops / rate / 1e6:.2f} ms CPU per update "
          f"({rate * 1e9 / flops:.0f} updates/s) if nothing but matmuls ran", flush=True)
    glibc_static_default = lambda: retain_freed_memory(128 << 10, 128 << 10)  # noqa: E731
    variants = {"eager, per-tensor Adam loop, glibc thresholds 128 KiB (its static default)":
                dict(foreach=False, allocator=glibc_static_default),
                "eager, foreach Adam, glibc thresholds 128 KiB": dict(allocator=glibc_static_default),
                "eager, foreach Adam, retain_freed_memory() (what the learner does)": dict(allocator=retain_freed_memory)}
    for name, parts in eager_breakdowns(data, variants, rounds=3, n=20).items():
        faults = parts.pop("minor page faults per update")
        total = sum(parts.values())
        print(f"\n{name}: {total:.2f} ms CPU per update ({faults:.0f} minor page faults per update)")
        for k, v in sorted(parts.items(), key=lambda kv: -kv[1]):
            print(f"  {k:58s} {v:6.2f} ms  {100 * v / total:4.0f}%")
    shares, total = compiled_breakdown(data, 20)
    print(f"\ncompiled: {total:.2f} ms CPU per update; by kind of work (profiler shares, scaled to that CPU time):")
    for k, v in shares.items():
        print(f"  {k:58s} {v * total:6.2f} ms  {100 * v:4.0f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--updates", type=int, default=300, help="gradient updates per timed round")
    ap.add_argument("--threads", type=int, default=THREADS, help="torch and XLA threads (default: CPU cores)")
    ap.add_argument("--glibc-malloc-defaults", action="store_true",
                    help="leave glibc's allocator thresholds alone (default: retain_freed_memory(), as roboloop's "
                         "learner processes do, for every learner alike)")
    ap.add_argument("--profile", action="store_true",
                    help="print where roboloop's update time goes (eager and compiled) and the matmul floor, then exit")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    import jax
    print(f"precision: float32 matmuls everywhere (torch default fp32 matmul precision "
          f"{torch.get_float32_matmul_precision()!r}, roboloop sac.matmul_precision='float32', jax default "
          f"{jax.config.jax_default_matmul_precision or 'float32 on CPU'}); threads: torch "
          f"{torch.get_num_threads()}, XLA {'1 (single-threaded Eigen)' if args.threads == 1 else f'{os.cpu_count()} (all cores)'}"
          f"; {os.cpu_count()} CPU cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    data = random_transitions(np.random.default_rng(0))
    if args.profile:  # sets the allocator thresholds per variant itself
        profile_report(data)
        return
    retained = not args.glibc_malloc_defaults and retain_freed_memory()
    print(f"allocator: {'freed memory retained (mmap threshold 32 MiB, trim 128 MiB) for all learners' if retained else 'glibc defaults'}",
          flush=True)
    runners = {
        "stable-baselines3 SAC": make_sb3(data),
        "SBX SAC (one jitted update per call)": make_sbx(data, fused=False),
        "SBX SAC (fused: a round's updates in one jitted loop)": make_sbx(data, fused=True),
        "roboloop SAC (default: LayerNorm critics, compiled)": make_roboloop(data),
        "roboloop SAC (no LayerNorm, same nets as SB3)": make_roboloop(data, layer_norm=False),
        "roboloop SAC (eager, sac.compile=false)": make_roboloop(data, compile=False),
        "roboloop SAC (eager, per-tensor Adam loop)": make_roboloop(data, compile=False, foreach=False),
        "roboloop SAC (eager, no LayerNorm)": make_roboloop(data, compile=False, layer_norm=False),
    }
    for name, run in runners.items():
        t = time.perf_counter()
        run(args.updates if "fused" in name else 20)  # warm-up: first calls, torch.compile, jit (per loop length)
        print(f"warm-up {name}: {time.perf_counter() - t:.1f} s", flush=True)
    # Wall-clock rates, and rates per CPU second of this process (less sensitive to other processes
    # sharing the cores; with one thread the two agree on an idle machine).
    rates: dict[str, list[float]] = {k: [] for k in runners}
    cpu_rates: dict[str, list[float]] = {k: [] for k in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            t, c = time.perf_counter(), time.process_time()
            run(args.updates)
            rates[name].append(args.updates / (time.perf_counter() - t))
            cpu_rates[name].append(args.updates / (time.process_time() - c))
        print(f"round {r + 1}/{args.rounds} (updates/s, in the order below): "
              + ", ".join(f"{v[-1]:.0f}" for v in rates.values()), flush=True)
    print(f"\nlearner throughput, float32, {torch.get_num_threads()} threads, batch {BATCH}, 256x256, 2 critics "
          f"({args.rounds} rounds x {args.updates} updates; ratio = median over rounds of the per-round ratio; "
          f"load average at the end {os.getloadavg()[0]:.1f}):")
    print(f"  {'':54s} {'updates/s':>9s} {'vs SB3':>7s} {'vs SBX fused':>12s} | {'per CPU-s':>9s} {'vs SB3':>7s} "
          f"{'vs SBX fused':>12s}")
    sbx = "SBX SAC (fused: a round's updates in one jitted loop)"
    for name in runners:
        cols = []
        for table in (rates, cpu_rates):
            v = table[name]
            cols.append(f"{statistics.median(v):9.1f} "
                        f"{statistics.median(x / b for x, b in zip(v, table['stable-baselines3 SAC'])):6.2f}x "
                        f"{statistics.median(x / b for x, b in zip(v, table[sbx])):11.2f}x")
        print(f"  {name:54s} {cols[0]} | {cols[1]}")

if __name__ == "__main__":
    main()
