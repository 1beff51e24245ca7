"""Shared fixtures: a real moto server (the project's emulator) over HTTP on 127.0.0.1."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from orderhist import aws, emulator
from orderhist.state import Home

REPO = Path(__file__).resolve().parent.parent
REAL_DATASET = REPO.parent / "shared" / "data" / "online_retail.parquet"
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
