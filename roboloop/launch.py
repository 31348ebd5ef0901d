"""`roboloop launch`: start ROS 2 nodes from the same XML launch files `ros2 launch` reads.

`ros2 launch` is not on PyPI, so where ROS 2 comes from pip this reads the launch XML itself.
Supported (a subset of the ROS 2 XML frontend, enough for launch/*.launch.xml):
  <launch>, <arg name default description>, <let name value>, <group> (+ <push-ros-namespace>),
  <include file> with <arg name value>, <node pkg exec name namespace args output on_exit>
  with <param name value>, <param from>, <remap from to>, <env name value>;
  `if` / `unless` on every element; substitutions $(var N), $(env N [default]),
  $(find-pkg-share P), $(dirname).
Anything else is an error naming the file, line and tag, before any process starts.

Executables resolve like `ros2 run`: <prefix>/lib/<pkg>/<exec> on AMENT_PREFIX_PATH (a colcon
install); otherwise the Python module <pkg>.<exec> (roboloop_ros is pip-installed with roboloop).
"""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent


class LaunchError(ValueError):
    """A launch file cannot be read or run; the message names file, line and what is wrong."""


@dataclass
class NodeSpec:
    """One node to start. params: ordered list of ("file", path) or ("value", (name, value))."""

    pkg: str
    exec: str
    name: str | None = None
    namespace: str = "/"
    params: list[tuple[str, object]] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    extra_args: list[str] = field(default_factory=list)
    on_exit: str = ""
    where: str = ""  # "file:line" of the <node> element

    @property
    def label(self) -> str:
        return self.name or self.exec


@dataclass
class LaunchDescription:
    nodes: list[NodeSpec]
    args: dict[str, str]  # the top-level file's arguments with their final values
    files: list[Path]  # every file read (the top one and its includes)


# ---------------------------------------------------------------------- package lookup
def find_pkg_share(pkg: str) -> Path:
    """share/<pkg> of a colcon/apt install on AMENT_PREFIX_PATH, else roboloop_ros's source folder."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        share = Path(prefix) / "share" / pkg
        if share.is_dir():
            return share
    src = REPO_ROOT / "ros2_ws" / "src" / pkg
    if (src / "package.xml").is_file():
        return src
    raise LaunchError(f"package {pkg!r} not found (AMENT_PREFIX_PATH="
                      f"{os.environ.get('AMENT_PREFIX_PATH', '')!r}, source tree {src})")


def find_executable(pkg: str, exe: str) -> list[str]:
    """The command that runs `exe` of `pkg` (see module docstring)."""
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        path = Path(prefix) / "lib" / pkg / exe
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path)]
    module = f"{pkg}.{exe}"
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if found:
        return [sys.executable, "-m", module]
    raise LaunchError(f"no executable {exe!r} in package {pkg!r}: not in <prefix>/lib/{pkg}/ on "
                      f"AMENT_PREFIX_PATH and no Python module {module}")


# ---------------------------------------------------------------------- parsing
_SUBST = re.compile(r"\$\(([^()]*)\)")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


class _Context:
    def __init__(self, path: Path, variables: dict[str, str], namespace: str = "/"):
        self.path, self.vars, self.namespace = path, variables, namespace

    def where(self, el: ET.Element) -> str:
        return f"{self.path}:{getattr(el, 'sourceline', '?')}"

    def subst(self, text: str | None, el: ET.Element) -> str:
        if text is None:
            return ""

        def one(m: re.Match) -> str:
            parts = m.group(1).split()
            kind, rest = (parts[0], parts[1:]) if parts else ("", [])
            if kind == "var" and len(rest) == 1:
                if rest[0] not in self.vars:
                    raise LaunchError(f"{self.where(el)}: $(var {rest[0]}): no such argument "
                                      f"(declared: {', '.join(sorted(self.vars)) or 'none'})")
                return self.vars[rest[0]]
            if kind == "env" and len(rest) in (1, 2):
                if rest[0] not in os.environ and len(rest) == 1:
                    raise LaunchError(f"{self.where(el)}: $(env {rest[0]}): environment variable not set")
                return os.environ.get(rest[0], rest[1] if len(rest) == 2 else "")
            if kind == "find-pkg-share" and len(rest) == 1:
                return str(find_pkg_share(rest[0]))
            if kind == "dirname" and not rest:
                return str(self.path.parent)
            raise LaunchError(f"{self.where(el)}: unsupported substitution $({m.group(1)})")

        return _SUBST.sub(one, text)

    def enabled(self, el: ET.Element) -> bool:
        for attr, want in (("if", True), ("unless", False)):
            if attr in el.attrib:
                v = self.subst(el.attrib[attr], el).strip().lower()
                if v not in _TRUE | _FALSE:
                    raise LaunchError(f"{self.where(el)}: {attr}={v!r} is not true/false")
                if (v in _TRUE) != want:
                    return False
        return True


class _Element(ET.Element):
    sourceline: int = 0  # a Python subclass can carry the line number


def _parse_xml(path: Path) -> ET.Element:
    """Parse with expat so every element keeps its line (`el.sourceline`) for error messages."""
    from xml.parsers import expat
    builder = ET.TreeBuilder(element_factory=_Element)
    parser = expat.ParserCreate()

    def start(tag, attrs):
        builder.start(tag, attrs).sourceline = parser.CurrentLineNumber

    parser.StartElementHandler = start
    parser.EndElementHandler = builder.end
    try:
        parser.Parse(path.read_bytes(), True)
        root = builder.close()
    except OSError as e:
        raise LaunchError(f"cannot read launch file {path}: {e.strerror}") from None
    except expat.ExpatError as e:
        raise LaunchError(f"{path}: not valid XML: {e}") from None
    if root.tag != "launch":
        raise LaunchError(f"{path}: root element is <{root.tag}>, expected <launch>")
    return root


def _check_attrs(ctx: _Context, el: ET.Element, allowed: set[str], required: set[str] = frozenset()) -> None:
    allowed = allowed | {"if", "unless"}
    for a in el.attrib:
        if a not in allowed:
            raise LaunchError(f"{ctx.where(el)}: <{el.tag}> has unknown attribute {a!r} "
                              f"(known: {', '.join(sorted(allowed))})")
    for a in required:
        if a not in el.attrib:
            raise LaunchError(f"{ctx.where(el)}: <{el.tag}> needs the attribute {a!r}")


def _join_ns(base: str, ns: str) -> str:
    if ns.startswith("/"):
        return ns
    return "/" + "/".join(p for p in (base.strip("/"), ns.strip("/")) if p)


def _read_file(path: Path, given: dict[str, str], inherited: dict[str, str], namespace: str,
               nodes: list[NodeSpec], files: list[Path], top: bool) -> dict[str, str]:
    path = path.resolve()
    if path in files:
        raise LaunchError(f"{path}: included twice (include cycle?)")
    files.append(path)
    root = _parse_xml(path)
    ctx = _Context(path, dict(inherited), namespace)
    declared: dict[str, str] = {}
    _read_children(ctx, root, given, declared, nodes, files)
    if top:
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise LaunchError(f"{path}: unknown launch argument(s) {', '.join(unknown)}; "
                              f"this file declares: {', '.join(sorted(declared)) or 'none'}")
    return declared


def _read_children(ctx: _Context, parent: ET.Element, given: dict[str, str], declared: dict[str, str],
                   nodes: list[NodeSpec], files: list[Path]) -> None:
    for el in parent:
        handler = _HANDLERS.get(el.tag)
        if handler is None:
            raise LaunchError(f"{ctx.where(el)}: unknown tag <{el.tag}> inside <{parent.tag}> "
                              f"(supported: {', '.join(sorted(_HANDLERS))})")
        if not ctx.enabled(el):
            continue
        handler(ctx, el, given, declared, nodes, files)


def _arg(ctx, el, given, declared, nodes, files):
    _check_attrs(ctx, el, {"name", "default", "description"}, {"name"})
    name = el.attrib["name"]
    if name in given:
        value = given[name]
    elif name in ctx.vars:  # set by an including file's <arg value>
        value = ctx.vars[name]
    elif "default" in el.attrib:
        value = ctx.subst(el.attrib["default"], el)
    else:
        desc = el.attrib.get("description", "")
        raise LaunchError(f"{ctx.where(el)}: missing launch argument {name!r}"
                          f"{' (' + desc + ')' if desc else ''}: pass {name}:=VALUE")
    ctx.vars[name] = declared[name] = value


def _let(ctx, el, given, declared, nodes, files):
    _check_attrs(ctx, el, {"name", "value"}, {"name", "value"})
    ctx.vars[el.attrib["name"]] = ctx.subst(el.attrib["value"], el)


def _group(ctx, el, given, declared, nodes, files):
    _check_attrs(ctx, el, {"scoped", "forwarding"})
    inner = _Context(ctx.path, dict(ctx.vars), ctx.namespace)
    _read_children(inner, el, given, declared, nodes, files)


def _push_ns(ctx, el, given, declared, nodes, files):
    _check_attrs(ctx, el, {"namespace"}, {"namespace"})
    ctx.namespace = _join_ns(ctx.namespace, ctx.subst(el.attrib["namespace"], el))


def _include(ctx, el, given, declared, nodes, files):
    _check_attrs(ctx, el, {"file"}, {"file"})
    path = Path(ctx.subst(el.attrib["file"], el))
    if not path.is_absolute():
        path = ctx.path.parent / path
    variables = dict(ctx.vars)
    for child in el:
        if child.tag != "arg":
            raise LaunchError(f"{ctx.where(child)}: <include> takes only <arg> children, got <{child.tag}>")
        _check_attrs(ctx, child, {"name", "value"}, {"name", "value"})
        variables[child.attrib["name"]] = ctx.subst(child.attrib["value"], child)
    if not path.is_file():
        raise LaunchError(f"{ctx.where(el)}: included file {path} does not exist")
    _read_file(path, {}, variables, ctx.namespace, nodes, files, top=False)


def _node(ctx, el, given, declared, nodes, files):
    # output is accepted for ros2 launch's sake; here every node's output is printed, prefixed.
    _check_attrs(ctx, el, {"pkg", "exec", "name", "namespace", "args", "output", "on_exit"}, {"pkg", "exec"})
    s = lambda key, default="": ctx.subst(el.attrib.get(key, default), el)  # noqa: E731
    spec = NodeSpec(pkg=s("pkg"), exec=s("exec"), name=s("name") or None,
                    namespace=_join_ns(ctx.namespace, s("namespace")), extra_args=shlex.split(s("args")),
                    on_exit=s("on_exit"), where=ctx.where(el))
    for child in el:
        if not ctx.enabled(child):
            continue
        if child.tag == "param":
            if "from" in child.attrib:
                _check_attrs(ctx, child, {"from"})
                f = Path(ctx.subst(child.attrib["from"], child))
                if not f.is_file():
                    raise LaunchError(f"{ctx.where(child)}: parameter file {f} does not exist")
                spec.params.append(("file", str(f)))
            else:
                _check_attrs(ctx, child, {"name", "value"}, {"name", "value"})
                spec.params.append(("value", (child.attrib["name"], ctx.subst(child.attrib["value"], child))))
        elif child.tag == "remap":
            _check_attrs(ctx, child, {"from", "to"}, {"from", "to"})
            spec.remaps.append((ctx.subst(child.attrib["from"], child), ctx.subst(child.attrib["to"], child)))
        elif child.tag == "env":
            _check_attrs(ctx, child, {"name", "value"}, {"name", "value"})
            spec.env[child.attrib["name"]] = ctx.subst(child.attrib["value"], child)
        else:
            raise LaunchError(f"{ctx.where(child)}: unknown tag <{child.tag}> inside <node> "
                              "(supported: param, remap, env)")
    if spec.on_exit not in ("", "shutdown"):
        raise LaunchError(f"{spec.where}: on_exit={spec.on_exit!r}; supported: shutdown")
    nodes.append(spec)


_HANDLERS = {"arg": _arg, "let": _let, "group": _group, "push-ros-namespace": _push_ns,
             "push_ros_namespace": _push_ns, "include": _include, "node": _node}


def parse_cli_args(items: list[str]) -> dict[str, str]:
    """['task:=Reach', ...] -> {'task': 'Reach'}; anything without ':=' is an error."""
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch argument {item!r} is not NAME:=VALUE")
        out[name] = value
    return out


def resolve_launch_file(name: str) -> Path:
    """A path, or a bare file name looked up in roboloop_ros's share/launch (like `ros2 launch`)."""
    p = Path(name)
    if p.is_file():
        return p
    if p.parent == Path("."):
        candidate = find_pkg_share("roboloop_ros") / "launch" / p.name
        if candidate.is_file():
            return candidate
    raise LaunchError(f"launch file {name!r} not found (as a path or in roboloop_ros/launch)")


def load(path: str | Path, args: dict[str, str] | None = None) -> LaunchDescription:
    """Read a launch file (and its includes) into the nodes to start."""
    nodes: list[NodeSpec] = []
    files: list[Path] = []
    given = dict(args or {})
    declared = _read_file(resolve_launch_file(str(path)), given, {}, "/", nodes, files, top=True)
    return LaunchDescription(nodes, declared, files)


# ---------------------------------------------------------------------- running
def _param_value(text: str):
    """Launch XML param values are typed like YAML ('10' -> int, 'true' -> bool); '' stays a string."""
    if text == "":
        return ""
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return v if isinstance(v, (bool, int, float, str, list)) else text


def node_command(spec: NodeSpec, tmpdir: str) -> list[str]:
    """The argv that starts `spec` (params keep their order: later ones win, as in ROS)."""
    cmd = find_executable(spec.pkg, spec.exec) + spec.extra_args + ["--ros-args"]
    if spec.name:
        cmd += ["-r", f"__node:={spec.name}"]
    if spec.namespace != "/":
        cmd += ["-r", f"__ns:={spec.namespace}"]
    pending: dict[str, object] = {}

    def flush():
        if pending:
            fd, path = tempfile.mkstemp(prefix=f"{spec.label}-", suffix=".yaml", dir=tmpdir)
            with os.fdopen(fd, "w") as f:
                yaml.safe_dump({"/**": {"ros__parameters": dict(pending)}}, f)
            cmd.extend(["--params-file", path])
            pending.clear()

    for kind, value in spec.params:
        if kind == "file":
            flush()
            cmd += ["--params-file", str(value)]
        else:
            name, text = value
            pending[name] = _param_value(text)
    flush()
    for src, dst in spec.remaps:
        cmd += ["-r", f"{src}:={dst}"]
    return cmd


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the launcher dies, however it dies, so a killed
    launcher never leaves half a robot graph running (the nodes run in their own session, so they do
    not get the terminal's Ctrl-C directly)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG = 1
    except OSError:
        pass


class Launcher:
    """Starts the nodes of a `LaunchDescription` as child processes and stops them together.

    Output lines are prefixed with the node's name. `stop()` sends SIGINT, then SIGTERM, then
    SIGKILL, each after `grace_s` seconds.
    """

    def __init__(self, desc: LaunchDescription, grace_s: float = 5.0, stream=None):
        self.desc = desc
        self.grace_s = grace_s
        self.stream = stream or sys.stdout
        self.procs: list[tuple[NodeSpec, subprocess.Popen]] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="roboloop-launch-")
        self._lock = threading.Lock()
        self.commands = []  # all resolved before any process starts
        for n in desc.nodes:
            try:
                self.commands.append(node_command(n, self._tmp.name))
            except LaunchError as e:
                raise LaunchError(f"{n.where}: node {n.label}: {e}") from None

    def start(self) -> None:
        for spec, cmd in zip(self.desc.nodes, self.commands):
            env = dict(os.environ, PYTHONUNBUFFERED="1", **spec.env)
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent)
            self.procs.append((spec, p))
            threading.Thread(target=self._pump, args=(spec.label, p), daemon=True).start()
            self._print(f"[launch] started {spec.label} (pid {p.pid}): {shlex.join(cmd)}")

    def _print(self, line: str) -> None:
        with self._lock:
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass   # whoever read our output went away; the nodes must still be stopped

    def _pump(self, label: str, p: subprocess.Popen) -> None:
        for raw in p.stdout:
            self._print(f"[{label}] {raw.decode(errors='replace').rstrip()}")

    def wait(self, stop_event: threading.Event | None = None) -> int:
        """Block until every node has exited, a node with on_exit="shutdown" exits, or stop_event.

        Returns 0 on a clean stop, else the first non-zero exit code of a node.
        """
        code = 0
        reported: set[int] = set()
        while True:
            if stop_event is not None and stop_event.is_set():
                self.stop()
                return code
            alive = 0
            for spec, p in self.procs:
                rc = p.poll()
                if rc is None:
                    alive += 1
                elif p.pid not in reported:
                    reported.add(p.pid)
                    self._print(f"[launch] {spec.label} exited with code {rc}")
                    code = code or rc
                    if spec.on_exit == "shutdown":
                        self.stop()
                        return code
            if not alive:
                return code
            time.sleep(0.1)

    def stop(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            running = [p for _, p in self.procs if p.poll() is None]
            if not running:
                break
            for p in running:
                try:
                    p.send_signal(sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + self.grace_s
            while time.monotonic() < deadline and any(p.poll() is None for p in running):
                time.sleep(0.05)
        for spec, p in self.procs:
            self._print(f"[launch] {spec.label} stopped (exit code {p.poll()})")
        self._tmp.cleanup()
