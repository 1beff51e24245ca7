"""The whole pipeline through the real CLI, on a real emulator, with real background
processes: up, up again, generate --wait, orders, down, down again."""
from __future__ import annotations

import csv
import json
import os
import socket
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from helpers.cli import orderhist
from helpers.lines import pennies

REPO = Path(__file__).resolve().parent.parent
BUNDLED = REPO / "data" / "OnlineRetail.csv"

def expected_orders(customer: str, rows: int) -> list[dict]:
    """What the first `rows` data rows of the bundled CSV say of one customer, newest first:
    computed here from the file itself, independently of the project's code."""
    orders: dict[str, dict] = {}
    with open(BUNDLED, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row_no, row in enumerate(reader, start=1):
            if row_no > rows:
                break
            if row["CustomerID"].split(".")[0] != customer:
                continue
            placed = datetime.strptime(row["InvoiceDate"], "%m/%d/%Y %H:%M").isoformat()
            quantity, price = int(row["Quantity"]), Decimal(row["UnitPrice"])
            order = orders.setdefault(row["InvoiceNo"], {
                "invoice": row["InvoiceNo"], "date": placed,
                "cancelled": row["InvoiceNo"].startswith("C"), "country": row["Country"],
                "lines": []})
            order["lines"].append({
                "line": row_no, "stock_code": row["StockCode"].strip(),
                "description": row["Description"], "quantity": quantity,
                "unit_price": pennies(price), "amount": pennies(price * quantity)})
    result = []
    for order in orders.values():
        order["items"] = len(order["lines"])
        order["units"] = sum(line["quantity"] for line in order["lines"])
        order["total"] = pennies(sum(Decimal(line["amount"]) for line in order["lines"]))
        result.append(order)
    result.sort(key=lambda o: (o["date"], o["invoice"]), reverse=True)
    return result


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return state.exists() and state.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
def test_up_generate_orders_down(tmp_path):
    home = tmp_path / "home"

    before = orderhist(home, "generate", "--count", "5")
    assert before.returncode == 1
    assert before.stderr.strip().count("\n") == 0 and "orderhist up" in before.stderr
    assert orderhist(home, "orders", "--customer", "17850").returncode == 1

    try:
        first = orderhist(home, "up")
        assert first.returncode == 0, first.stderr
        state = json.loads((home / "state.json").read_text())
        assert state["target"] == "local" and state["endpoint"].startswith("http://127.0.0.1:")

        second = orderhist(home, "up")
        assert second.returncode == 0, second.stderr
        assert "0 created, 0 updated" in second.stdout
        again = json.loads((home / "state.json").read_text())
        assert again["resources"] == state["resources"]  # same ARNs, same CodeSha256

        generated = orderhist(home, "generate", "--count", "50", "--wait", "--json")
        assert generated.returncode == 0, generated.stderr
        summary = json.loads(generated.stdout)
        assert summary["lines"] == 50 and summary["first_line"] == 1 and summary["last_line"] == 50
        assert summary["stored"] == 50 and summary["rejected"] == 0 and summary["missing"] == 0
        assert summary["latency_ms"]["p99"] is not None

        shown = orderhist(home, "orders", "--customer", "17850", "--json")
        assert shown.returncode == 0, shown.stderr
        history = json.loads(shown.stdout)
        assert history["customer"] == "17850" and history["next"] is None
        assert history["orders"] == expected_orders("17850", 50)
        assert history["orders"], "the bundled dataset's first rows belong to customer 17850"

        table = orderhist(home, "orders", "--customer", "17850")
        assert table.returncode == 0 and history["orders"][0]["invoice"] in table.stdout

        status = json.loads(orderhist(home, "status", "--json").stdout)
        assert all(info["exists"] for info in status["resources"].values())
        assert all(proc["alive"] for proc in status["processes"].values())
        assert json.loads(orderhist(home, "rejects", "--json").stdout) == []
        pids = [proc["pid"] for proc in status["processes"].values()]
        port = int(state["endpoint"].rsplit(":", 1)[1])
    finally:  # a failed assertion must not leave the stack's processes running
        down = orderhist(home, "down")
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(pid) for pid in pids)
    assert not port_open(port)
    assert not (home / "state.json").exists()
    assert orderhist(home, "down").returncode == 0
