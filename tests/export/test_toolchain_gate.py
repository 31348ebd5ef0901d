"""A missing toolchain skips the firmware tests on a workstation and fails them in CI."""
import pytest

from .conftest import require_tools

MISSING = "roboloop-no-such-compiler"


def test_a_missing_tool_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"{MISSING} not on PATH.*CI=true"):
        require_tools("gcc", MISSING)


@pytest.mark.parametrize("ci", [None, "false"])
def test_a_missing_tool_skips_outside_ci(monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require_tools(MISSING)


def test_present_tools_pass_under_ci(monkeypatch, tmp_path):
    tool = tmp_path / "roboloop-fake-cc"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    require_tools(tool.name)   # returns: nothing to skip or fail
