"""Shared fixtures: a real moto server (the project's emulator) over HTTP on 127.0.0.1, the
emulator tests' fast and stock twins, the runtime tests' probe function. Shared helpers (not
fixtures) are in the helpers package."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from helpers.datasets import REAL_DATASET
from helpers.emulator import start_emulator
from helpers.runtime import Probe
from orderhist import aws, emulator
from orderhist.state import Home

REGION = "us-east-1"


@pytest.fixture(scope="session")
def emulator_home(tmp_path_factory) -> Home:
    home = Home(tmp_path_factory.mktemp("emulator-home"))
    home.make_dirs()
    return home


@pytest.fixture(scope="session")
def local_target(emulator_home) -> aws.Target:
    """One emulator process for the whole session; tests keep apart by unique names."""
    endpoint = emulator.start(emulator_home, aws.local_child_environment(REGION))
    try:
        yield aws.Target(aws.LOCAL, REGION, endpoint)
    finally:
        emulator.stop(emulator_home)


@pytest.fixture
def unique_name() -> str:
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def real_dataset() -> Path:
    if not REAL_DATASET.exists():
        pytest.skip(f"the real UCI dataset is not at {REAL_DATASET}")
    return REAL_DATASET


@pytest.fixture(scope="module")
def twin_targets(tmp_path_factory):
    """A fast emulator and a stock-moto one (same fixes, no fast path, no index)."""
    fast_home, fast = start_emulator(tmp_path_factory.mktemp("fast"), fast=True)
    stock_home, stock = start_emulator(tmp_path_factory.mktemp("stock"), fast=False)
    try:
        yield fast, stock
    finally:
        emulator.stop(fast_home)
        emulator.stop(stock_home)


@pytest.fixture(scope="module")
def fast_target(tmp_path_factory):
    home, target = start_emulator(tmp_path_factory.mktemp("fast-only"), fast=True)
    try:
        yield target
    finally:
        emulator.stop(home)


@pytest.fixture
def probe(local_target, unique_name, tmp_path):
    made = Probe(local_target, unique_name, tmp_path)
    yield made
    made.stack.unmap()


def pytest_report_header(config):
    found = "found" if REAL_DATASET.exists() else \
        "NOT found: its tests skip (set ORDERHIST_REAL_DATASET to its path)"
    return f"real UCI dataset: {REAL_DATASET} ({found})"
