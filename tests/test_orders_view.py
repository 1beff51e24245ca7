"""Past Orders through the whole pipeline: exact against a pandas truth on real data, safe
with hostile text, --follow, paging, and bad values."""
from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from helpers.cli import orderhist
from helpers.lines import pennies
from orderhist import history
from orderhist.state import Home, require_state

REAL_LINES = 30_000
HOSTILE = "[bold red]PWNED[/] \x1b[31mRED\x1b[0m"


def write_source(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[
            "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
            "CustomerID", "Country"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("orders-view") / "home"
    result = orderhist(home, "up")
    assert result.returncode == 0, result.stderr
    yield home
    orderhist(home, "down")


@pytest.fixture(scope="module")
def real_stack(stack, real_dataset_path):
    result = orderhist(stack, "generate", "--source", str(real_dataset_path), "--count",
                       str(REAL_LINES), "--wait", "--timeout", "600", "--json", timeout=900)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stored"] == REAL_LINES and summary["missing"] == 0
    return stack


@pytest.fixture(scope="module")
def real_dataset_path():
    from helpers.datasets import REAL_DATASET

    if not REAL_DATASET.exists():
        pytest.skip(f"the real UCI dataset is not at {REAL_DATASET}")
    return REAL_DATASET


def pandas_truth(path: Path, rows: int) -> dict[str, list[dict]]:
    """Each customer's orders as the first `rows` rows of the real file say, computed with
    pandas from the file alone."""
    import pandas as pd

    frame = pd.read_parquet(path).head(rows).copy()
    frame["LineNo"] = range(1, len(frame) + 1)
    frame = frame[frame["CustomerID"].notna()]
    truth: dict[str, list[dict]] = {}
    for customer, lines in frame.groupby("CustomerID"):
        orders = []
        for invoice, group in lines.groupby("InvoiceNo"):
            prices = [Decimal(repr(float(p))) for p in group["UnitPrice"]]
            amounts = [p * int(q) for p, q in zip(prices, group["Quantity"])]
            orders.append({
                "invoice": str(invoice),
                "date": group["InvoiceDate"].min().isoformat(),
                "latest": group["InvoiceDate"].max().isoformat(),
                "cancelled": str(invoice).startswith("C"),
                "total": pennies(sum(amounts, Decimal(0))),
                "lines": [int(n) for n in group["LineNo"]],
                "units": int(group["Quantity"].sum()),
            })
        orders.sort(key=lambda o: (o["latest"], o["invoice"]), reverse=True)
        truth[str(int(customer))] = orders
    return truth


@pytest.mark.slow
def test_json_equals_a_pandas_truth_for_fifteen_customers(real_stack, real_dataset_path):
    truth = pandas_truth(real_dataset_path, REAL_LINES)
    by_rows = sorted(truth, key=lambda c: -sum(len(o["lines"]) for o in truth[c]))
    with_cancellations = [c for c in by_rows if any(o["cancelled"] for o in truth[c])]
    chosen = by_rows[:3] + [c for c in with_cancellations if c not in by_rows[:3]][:4]
    rest = [c for c in truth if c not in chosen]
    chosen += random.Random(7).sample(rest, 15 - len(chosen))
    assert len(set(chosen)) == 15
    stack_state = require_state(Home(real_stack))
    target, table = stack_state.target(), stack_state.resources["table"]["id"]
    for customer in chosen:
        shown = orderhist(real_stack, "orders", "--customer", customer, "--json")
        assert shown.returncode == 0, shown.stderr
        orders = json.loads(shown.stdout)["orders"]
        got = [{"invoice": o["invoice"], "date": o["date"], "cancelled": o["cancelled"],
                "total": o["total"], "lines": [line["line"] for line in o["lines"]],
                "units": o["units"]} for o in orders]
        want = [{k: v for k, v in o.items() if k != "latest"} for o in truth[customer]]
        assert got == want, customer
        for order in orders:  # each total is the exact sum of its lines
            amounts = (Decimal(line["amount"]) for line in order["lines"])
            assert Decimal(order["total"]) == sum(amounts)
        # The table view reads only the summary attributes: same orders, figures and summary.
        light = history.customer_history(target, table, customer, line_details=False)
        figures = [(o.invoice, o.date, o.cancelled, o.items, o.units, o.total)
                   for o in light.orders]
        assert figures == [(o["invoice"], o["date"], o["cancelled"], o["items"], o["units"],
                            Decimal(o["total"])) for o in orders], customer
        assert light.summary == history.customer_history(target, table, customer).summary


@pytest.mark.slow
def test_hostile_text_is_stored_and_shown_literally(stack, tmp_path):
    source = write_source(tmp_path / "hostile.csv", [{
        "InvoiceNo": "900001", "StockCode": "X1", "Description": HOSTILE, "Quantity": "1",
        "InvoiceDate": "2011-01-02 10:00", "UnitPrice": "1.50", "CustomerID": "99001",
        "Country": "United Kingdom"}])
    result = orderhist(stack, "generate", "--source", str(source), "--count", "1", "--wait")
    assert result.returncode == 0, result.stderr
    stored = json.loads(orderhist(stack, "orders", "--customer", "99001", "--json").stdout)
    assert stored["orders"][0]["lines"][0]["description"] == HOSTILE
    env = {**os.environ, "FORCE_COLOR": "1", "COLUMNS": "160"}
    shown = subprocess.run([sys.executable, "-m", "orderhist", "--home", str(stack), "orders",
                            "--customer", "99001"], capture_output=True, text=True, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "[bold red]PWNED[/]" in shown.stdout
    assert "\x1b[31mRED" not in shown.stdout and "\\x1b[31mRED" in shown.stdout


@pytest.mark.slow
def test_follow_shows_a_new_order_within_two_seconds(stack, tmp_path):
    follower = subprocess.Popen(
        [sys.executable, "-m", "orderhist", "--home", str(stack), "orders", "--customer",
         "99002", "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "160", "PYTHONUNBUFFERED": "1"})
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(iter(follower.stdout.readline, "")),
                     daemon=True).start()

    def wait_for(text: str, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if text in "".join(output):
                return True
            time.sleep(0.02)
        return False

    try:
        assert wait_for("following", 30), follower.stderr.read() if follower.poll() else output
        source = write_source(tmp_path / "live.csv", [{
            "InvoiceNo": "900777", "StockCode": "L1", "Description": "LIVE ORDER",
            "Quantity": "2", "InvoiceDate": "2011-01-02 10:00", "UnitPrice": "3.00",
            "CustomerID": "99002", "Country": "France"}])
        assert orderhist(stack, "generate", "--source", str(source), "--count", "1",
                         "--now").returncode == 0
        # The contract is "shows up at once": within 2 s of being placed.
        assert wait_for("LIVE ORDER", 2.0), output
        assert "900777" in "".join(output)
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=10) == 0
    finally:
        if follower.poll() is None:
            follower.kill()


@pytest.mark.slow
def test_paging_and_one_invoice(stack, tmp_path):
    rows = [{"InvoiceNo": str(910000 + i), "StockCode": "P", "Description": "PAGE",
             "Quantity": "1", "InvoiceDate": f"2011-02-{i + 1:02d} 09:00", "UnitPrice": "1",
             "CustomerID": "99003" if i < 5 else "", "Country": "Spain"} for i in range(6)]
    source = write_source(tmp_path / "pages.csv", rows)
    assert orderhist(stack, "generate", "--source", str(source), "--count", "6",
                     "--wait").returncode == 0
    invoices, after = [], None
    for _ in range(5):
        args = ["orders", "--customer", "99003", "--limit", "2", "--json"]
        page = json.loads(orderhist(stack, *args, *(["--after", after] if after else [])).stdout)
        invoices += [o["invoice"] for o in page["orders"]]
        after = page["next"]
        if after is None:
            break
    assert invoices == [str(910000 + i) for i in reversed(range(5))]
    guest = json.loads(orderhist(stack, "orders", "--invoice", "910005", "--json").stdout)
    assert [o["invoice"] for o in guest["orders"]] == ["910005"]
    assert json.loads(orderhist(stack, "orders", "--customer", "99003", "--invoice", "910005",
                                "--json").stdout)["orders"] == []


@pytest.mark.parametrize("args", [
    ["--customer", "abc"], ["--customer", ""], ["--customer", "-5"],
    ["--customer", "17850", "--since", "2011-02-01", "--until", "2011-01-01"],
    ["--customer", "17850", "--after", "not-a-cursor"],
    ["--customer", "17850", "--since", "yesterday"],
])
def test_bad_values_exit_2_with_one_line(stack, args):
    result = orderhist(stack, "orders", *args)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_customer_is_an_empty_history(stack):
    result = orderhist(stack, "orders", "--customer", "12", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["orders"] == []
