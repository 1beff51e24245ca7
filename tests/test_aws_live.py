"""Opt-in: the whole pipeline on a real AWS account (costs a few cents; takes minutes while
the host boots). Run with ORDERHIST_LIVE_AWS=1 python -m pytest -m aws, with credentials in
the standard chain. Skipped otherwise: this machine has no AWS account."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

pytestmark = [
    pytest.mark.aws,
    pytest.mark.skipif(os.environ.get("ORDERHIST_LIVE_AWS") != "1",
                       reason="live AWS test: set ORDERHIST_LIVE_AWS=1 and AWS credentials"),
]


def run(home, *args, timeout=1800):
    return subprocess.run([sys.executable, "-m", "orderhist", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_up_generate_orders_down_on_aws(tmp_path):
    prefix = "ohlive-" + uuid.uuid4().hex[:6]
    try:
        assert run(tmp_path, "up", "--target", "aws", "--prefix", prefix).returncode == 0
        generated = run(tmp_path, "generate", "--count", "50", "--wait", "--timeout", "900",
                        "--json")
        assert generated.returncode == 0, generated.stderr
        assert json.loads(generated.stdout)["stored"] == 50
        orders = json.loads(run(tmp_path, "orders", "--customer", "17850", "--json").stdout)
        assert orders["orders"]
    finally:
        assert run(tmp_path, "down", "--yes").returncode == 0
