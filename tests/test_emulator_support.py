"""Helpers for the emulator's tests (a fast and a stock emulator side by side, clients that
keep the raw response), and unit tests of the emulator's in-process pieces."""
from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from orderhist import aws, emulator
from orderhist.state import Home

REGION = "us-east-1"


def start_emulator(root: Path, fast: bool = True) -> tuple[Home, aws.Target]:
    home = Home(root)
    home.make_dirs()
    env = aws.local_child_environment(REGION)
    env[emulator.FAST_ENV] = "1" if fast else "0"
    endpoint = emulator.start(home, env)
    return home, aws.Target(aws.LOCAL, REGION, endpoint)


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


def raw_client(service: str, target: aws.Target):
    """A client that makes one attempt only and keeps the last raw response body."""
    client = aws.client(service, target, retries={"total_max_attempts": 1, "mode": "standard"})
    client.last_raw = None

    def keep(http_response, **_):
        client.last_raw = (http_response.status_code, http_response.content)

    client.meta.events.register("after-call.*.*", keep)
    return client


def outcome(client, operation: str, params: dict):
    """("ok", response JSON as sent) or ("error", code, message)."""
    try:
        getattr(client, operation)(**copy.deepcopy(params))
    except ClientError as error:
        info = error.response.get("Error", {})
        return ("error", info.get("Code"), info.get("Message"))
    status, body = client.last_raw
    return ("ok", json.loads(body) if body else None)


class Twin:
    """The same call on the fast and the stock emulator."""

    def __init__(self, service: str, fast: aws.Target, stock: aws.Target):
        self.fast = raw_client(service, fast)
        self.stock = raw_client(service, stock)
        # Valid requests stock moto crashes on (a 500), e.g. a BETWEEN clause before the
        # hash key's: there is no reference answer to compare with.
        self.stock_crashes: list = []

    def both(self, operation: str, **params):
        return outcome(self.fast, operation, params), outcome(self.stock, operation, params)

    def same(self, operation: str, reference: dict | None = None, **params):
        """Both answers, which must be equal; `reference` is an equivalent request to ask
        stock moto instead when it crashes on this one."""
        got, want = self.both(operation, **params)
        # A crash of moto is the service's own 500 (InternalServerError) in its JSON form.
        if want[:2] == ("error", "InternalServerError") and got[0] == "ok":
            self.stock_crashes.append((operation, params))
            if reference is None:
                return got
            want = outcome(self.stock, operation, reference)
        assert got == want, f"{operation}({params}) differs"
        return got


def fast_requests(target: aws.Target) -> dict:
    return emulator.control(target.endpoint_url, "stats")["requests"]


# ---------------------------------------------------------------------------------------------
# Unit tests of the in-process pieces (no server).

def test_key_conditions_read_only_the_forms_they_know():
    from orderhist.emulator import keycond

    values = {":c": {"S": "1"}, ":a": {"S": "a"}, ":b": {"S": "b"}}
    names = {"#c": "CustomerID", "#s": "SK"}
    read = keycond.parse("CustomerID = :c AND SK BETWEEN :a AND :b", None, values,
                         "CustomerID", "SK")
    assert (read.op, read.values) == ("BETWEEN", [{"S": "a"}, {"S": "b"}])
    read = keycond.parse("begins_with(#s, :a) and #c=:c", names, values, "CustomerID", "SK")
    assert read.op == "BEGINS_WITH" and read.names_used == {"#c", "#s"}
    assert keycond.parse("#c = :c", names, values, "CustomerID", "SK").op is None
    for unread in ("CustomerID = :c OR SK = :a", "(CustomerID = :c)", "SK = :a",
                   "CustomerID < :c", ":c = CustomerID", "CustomerID = :c AND SK <> :a",
                   "CustomerID = :c AND Other = :a", "CustomerID = :zz", "CustomerID = :c AND",
                   "CustomerID = :c AND SK BETWEEN :a", "size(SK) = :a AND CustomerID = :c"):
        assert keycond.parse(unread, names, values, "CustomerID", "SK") is None, unread


class _Item:
    def __init__(self, hash_key, range_key, attrs):
        self.hash_key, self.range_key, self.attrs = hash_key, range_key, attrs


class _Dt:
    def __init__(self, kind, value):
        self.type, self.value = kind, value


def test_gsi_index_orders_ties_like_moto_and_removes_by_identity():
    from orderhist.emulator.index import GsiIndex

    gsi = GsiIndex("ByInvoice", "InvoiceNo", "S", "LineNo", "N", ("CustomerID", "S", "SK", "S"))
    rng = random.Random(3)
    items = []
    for n in range(300):
        item = _Item(_Dt("S", rng.choice("abc")), _Dt("S", f"k{rng.randrange(50):03d}"),
                     {"InvoiceNo": _Dt("S", "i"), "LineNo": _Dt("N", str(rng.randrange(10)))})
        items.append(item)
        gsi.add(item, gsi.entry(item.attrs))
    run = gsi.parts["i"]
    order = [(int(i.attrs["LineNo"].value), i.hash_key.value, i.range_key.value)
             for i in run.items]
    assert order == sorted(order)
    for item in items[::2]:
        gsi.remove(item, gsi.entry(item.attrs))
    assert sorted(map(id, run.items)) == sorted(map(id, items[1::2]))
    odd = _Item(_Dt("S", "a"), _Dt("S", "k"), {"InvoiceNo": _Dt("S", "i"), "LineNo": _Dt("S", "x")})
    gsi.add(odd, gsi.entry(odd.attrs))
    assert gsi.odd == 1


def test_slim_kinesis_records_keep_moto_timestamps_exactly():
    from moto.core.serialize import TimestampSerializer
    from moto.core.utils import unix_time
    from moto.kinesis.models import Record

    from orderhist.emulator.kinesis_store import SlimRecord

    rng = random.Random(5)
    for _ in range(2000):
        at_us = rng.randrange(1_600_000_000_000_000, 1_900_000_000_000_000)
        slim = SlimRecord("k", b"payload", 1, None, at_us)
        stock = Record("k", "cGF5bG9hZA==", 1, None)
        stock.created_at_datetime = slim.created_at_datetime
        stock.created_at = unix_time(stock.created_at_datetime)
        assert slim.created_at == stock.created_at
        assert slim.to_json() == stock.to_json()
        assert slim.data == stock.data
        assert slim.arrival_timestamp() == TimestampSerializer._timestamp_unixtimestamp(
            slim.created_at_datetime)
