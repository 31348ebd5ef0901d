"""The docs cannot drift from the code: generated reference pages match it, the site builds in strict
mode (no broken links or missing pages), every command block marked runnable works as written, and no
page or source file speaks of issue numbers or development history."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from roboloop import docgen

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
RUNNABLE = re.compile(r"<!-- runnable(?: timeout=(\d+))? -->\s*\n```(?:bash|sh)\n(.*?)```", re.S)


@pytest.mark.parametrize("name", sorted(docgen.PAGES))
def test_the_reference_pages_are_generated_from_the_code(name):
    committed = (docgen.REFERENCE / name).read_text()
    assert committed == docgen.PAGES[name](), \
        f"docs/reference/{name} is out of date with the code: run `python -m roboloop.docgen` and commit it"


def test_every_config_key_cli_argument_and_node_parameter_says_what_it_means():
    undocumented = [line.split("|")[1].strip() for name in docgen.PAGES
                    for line in docgen.PAGES[name]().splitlines()
                    if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not undocumented, f"no meaning given (a comment on the field, a help=, a comment on the parameter): {undocumented}"


def test_the_docs_site_builds_in_strict_mode(tmp_path):
    proc = subprocess.run([str(VENV_BIN / "mkdocs"), "build", "--strict", "-d", str(tmp_path / "site")], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "site" / "reference" / "config" / "index.html").exists()


def runnable_blocks(page: Path) -> list[tuple[str, int]]:
    return [(m.group(2), int(m.group(1) or 900)) for m in RUNNABLE.finditer(page.read_text())]


def test_runnable_blocks_are_found():
    pages = [p for p in PAGES if runnable_blocks(p)]
    assert REPO / "docs" / "getting-started.md" in pages


@pytest.mark.parametrize("page", [p for p in PAGES if runnable_blocks(p)], ids=lambda p: str(p.relative_to(REPO)))
def test_the_runnable_commands_work_as_written(page, tmp_path):
    """Each page's runnable blocks run in order, in one fresh folder, as a user's shell would."""
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}", "OMP_NUM_THREADS": "1"}
    for code, timeout in runnable_blocks(page):
        proc = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=timeout)
        assert proc.returncode == 0, f"{page.name}: this block failed:\n{code}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


HISTORY = re.compile(r"\b[Ii]ssue\s*#?\d+|\bissues? [0-9]+\b")


def test_no_issue_numbers_in_the_docs_or_the_code():
    files = [*PAGES, *[p for folder in ("roboloop", "sim", "policies", "hardware", "ros2_ws", "launch", "benchmarks")
                       for p in (REPO / folder).rglob("*") if p.suffix in (".py", ".xml", ".yaml", ".c", ".h")]]
    hits = [f"{p.relative_to(REPO)}:{n}: {line.strip()}" for p in files
            for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1) if HISTORY.search(line)]
    assert not hits, "issue numbers belong in commit messages and the CHANGELOG:\n" + "\n".join(hits[:30])
