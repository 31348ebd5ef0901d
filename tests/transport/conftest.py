"""Fixtures for the transport tests."""
import pytest

from .procs import Procs


@pytest.fixture
def procs(tmp_path):
    pr = Procs(tmp_path)
    yield pr
    pr.cleanup()
