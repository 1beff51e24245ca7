"""Unit tests of the emulator's in-process pieces (no server; the emulator tests' helpers are
in helpers/emulator.py)."""
from __future__ import annotations

import random

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
    for _n in range(300):
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
