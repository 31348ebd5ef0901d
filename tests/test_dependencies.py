"""The packages depend on each other in one direction only, and no modules import each other in a circle.

Layers, bottom to top (docs/design.md explains why this order):

    sim        roboloop.sim        physics, task envs and their rules, scripted experts
    hardware   roboloop.hardware   robot drivers, RobotEnv, safety envelope, cameras, gamepads, MCU bridge
    wrappers   roboloop.wrappers   one-concern Gymnasium wrappers (sim-to-real, safety, intervention)
    core       roboloop.envs, roboloop.gym_adapter, roboloop.checkpoint, roboloop.dataset: making envs, specs, files
    policies   roboloop.policies   SAC/RLPD, replay, the training loop, transport, export
    app        every other roboloop module: CLI, config files, demo, launcher, recording
    ros        roboloop_ros        thin ROS 2 nodes; nothing imports them

A module may import its own layer or a lower one. Imports inside functions count too: a lazy import
hides a cycle from the interpreter, not from the reader. The graph is read from the source (ast), so
this test needs none of the packages importable.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# folder -> module prefix, as pyproject.toml's package-dir maps them
PACKAGE_DIRS = {
    "roboloop": "roboloop",
    "sim": "roboloop.sim",
    "policies": "roboloop.policies",
    "hardware": "roboloop.hardware",
    "ros2_ws/src/roboloop_ros/roboloop_ros": "roboloop_ros",
}
LAYERS = ["sim", "hardware", "wrappers", "core", "policies", "app", "ros"]
CORE_MODULES = ("roboloop.envs", "roboloop.gym_adapter", "roboloop.checkpoint", "roboloop.dataset")


def layer_of(module: str) -> str:
    for prefix, layer in (("roboloop.sim", "sim"), ("roboloop.hardware", "hardware"),
                          ("roboloop.wrappers", "wrappers"), ("roboloop.policies", "policies"),
                          ("roboloop_ros", "ros")):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    if module in CORE_MODULES:
        return "core"
    return "app"


def modules() -> dict[str, Path]:
    """Module name -> source file, for every module of ours."""
    out: dict[str, Path] = {}
    for folder, prefix in PACKAGE_DIRS.items():
        base = ROOT / folder
        for path in base.rglob("*.py"):
            rel = path.relative_to(base).with_suffix("")
            parts = [p for p in rel.parts]
            if prefix == "roboloop" and parts and parts[0] in ("configs",):
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([prefix, *parts])
            out[name] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that `name` imports anywhere in its source (resolved to the longest known name)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()

    def add(target: str) -> None:
        while target and target not in known:
            target = target.rsplit(".", 1)[0] if "." in target else ""
        if target and target != name:
            found.add(target)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for alias in node.names:
                # `from pkg import submodule` imports the submodule; `from mod import name` the module
                full = f"{mod}.{alias.name}"
                add(full if full in known else mod)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def test_the_module_list_covers_the_packages(graph):
    for name in ("roboloop.sim.tasks", "roboloop.hardware.safety", "roboloop.wrappers.stack", "roboloop.envs",
                 "roboloop.policies.sac", "roboloop.cli", "roboloop_ros.actor_node"):
        assert name in graph


def test_every_import_points_down_the_layers(graph):
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    upward = sorted(f"{a} ({layer_of(a)}) imports {b} ({layer_of(b)})"
                    for a, targets in graph.items() for b in targets
                    if rank[layer_of(b)] > rank[layer_of(a)])
    assert not upward, "imports against the layer order:\n  " + "\n  ".join(upward)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}   # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package importing its own submodules (re-exports in __init__) is not a cycle
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycles(graph):
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_checks_catch_what_they_guard_against():
    g = {"roboloop.sim.tasks": {"roboloop.policies.sac"}, "roboloop.policies.sac": {"roboloop.sim.tasks"}}
    assert find_cycle(g) == ["roboloop.policies.sac", "roboloop.sim.tasks", "roboloop.policies.sac"]
    assert layer_of("roboloop.sim.tasks") == "sim" and layer_of("roboloop.cli") == "app"
    assert LAYERS.index(layer_of("roboloop.policies.sac")) > LAYERS.index(layer_of("roboloop.sim.tasks"))
