"""Shared pytest configuration.

Benchmarks under tests/benchmarks/ stay out of the default run: they are collected only when
pytest is asked for them with ``--benchmark-only`` (``pytest tests/benchmarks --benchmark-only``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# One intra-op thread for the whole run: the models here are tiny, where a second thread costs
# more in synchronisation than it gains (10x slower on a loaded 2-core machine), and bit-exact
# comparisons (resume, detach vs detach_) then do not depend on the core count.
torch.set_num_threads(1)

BENCHMARKS = Path(__file__).parent / "benchmarks"
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if config.getoption("benchmark_only", default=False):
        return None
    if collection_path == BENCHMARKS or BENCHMARKS in collection_path.parents:
        return True
    return None


@pytest.fixture
def timemachine_path() -> Path:
    """The real corpus beside the checkout (../shared/data), skipped where it is absent."""
    path = SHARED_DATA / "timemachine.txt"
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="session")
def bad_input_workspace(tmp_path_factory) -> dict[str, str]:
    """A trained tiny run and damaged copies of it (tests/bad_inputs.py), built once."""
    from bad_inputs import make_workspace

    return make_workspace(tmp_path_factory.mktemp("bad-input"))
