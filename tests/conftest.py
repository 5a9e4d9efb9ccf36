"""`slow` tests (large random runs) are skipped unless pytest is given `--slow`.

Under CI (`CI` set) hypothesis runs derandomized: the examples are a fixed function of each test, so
a submission's CI run checks exactly what was run before it was submitted; random exploration with
fresh seeds happens in every local run (and `--slow` runs)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# dsl.Module re-verifies every diagram at its stage boundaries in tests (dsl/module.py `verifying`);
# the CLI tests' subprocesses inherit it
os.environ.setdefault("DSL_VERIFY", "1")

settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow")


def pytest_configure(config: pytest.Config) -> None:
    # tests/helpers.py reads this when a test module imports it: in a pytest-xdist worker too, whose
    # sys.argv is not the pytest command line (the options themselves do reach the workers)
    if config.getoption("--slow"):
        os.environ["DSL_SLOW_TESTS"] = "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
