"""A sorted index over a moto DynamoDB table: per partition, the items in key order; per GSI,
per index partition, the items in the order moto's Query returns them.

moto's Table.query walks and sorts every item of the table on each call. With this index a
Query costs a dict lookup, a bisect and the items it returns. Keys are held as plain Python
values ordered exactly as moto orders DynamoType: strings by code point, numbers by Decimal
value (an int where the number is one: it compares exactly with Decimal and weighs less).

The index holds the same Item objects as table.items and is changed under the DynamoDB lock
by the write hooks in `patches`. Only tables with a hash and a range key of type S or N are
indexed, and only GSIs with one HASH and one RANGE key of type S or N.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from decimal import Decimal

from orderhist.emulator.sizes import item_size

ATTRIBUTE = "_orderhist_index"
KEY_TYPES = ("S", "N")
_INTEGER = re.compile(r"-?[0-9]+\Z")


def number(text: str):
    return int(text) if _INTEGER.match(text) else Decimal(text)


def native(kind: str, value):
    """The comparable form of a key value of the given type, or None if it is not one."""
    if type(value) is not str:
        return None
    if kind == "S":
        return value
    try:
        return number(value)
    except ArithmeticError:
        return None


def native_of(dt, kind: str):
    return native(kind, dt.value) if dt is not None and dt.type == kind else None


class Run:
    """Parallel lists: `keys` sorted, `items` in the same order."""
    __slots__ = ("keys", "items")

    def __init__(self) -> None:
        self.keys: list = []
        self.items: list = []


class GsiIndex:
    """Items of one GSI. Within an index partition moto orders by (index range, table hash,
    table range); `keys` holds the index range only, ties are ordered through the items."""
    __slots__ = ("name", "hash_attr", "hash_type", "range_attr", "range_type", "parts", "odd",
                 "table_hash", "table_hash_type", "table_range", "table_range_type")

    def __init__(self, name, hash_attr, hash_type, range_attr, range_type, table_keys) -> None:
        self.name = name
        self.hash_attr, self.hash_type = hash_attr, hash_type
        self.range_attr, self.range_type = range_attr, range_type
        (self.table_hash, self.table_hash_type,
         self.table_range, self.table_range_type) = table_keys
        self.parts: dict = {}
        # Items whose index key attributes have another type than declared: moto cannot
        # even sort those, so while any exist, queries of this index go to moto.
        self.odd = 0

    def entry(self, attrs):
        """(index hash, index range) of an item's attributes; None if not in the index;
        "odd" if a key attribute has the wrong type."""
        h = attrs.get(self.hash_attr)
        r = attrs.get(self.range_attr)
        if h is None or r is None:
            return None
        hn = native_of(h, self.hash_type)
        rn = native_of(r, self.range_type)
        if hn is None or rn is None:
            return "odd"
        return hn, rn

    def tie(self, item):
        return (native_of(item.hash_key, self.table_hash_type),
                native_of(item.range_key, self.table_range_type))

    def add(self, item, entry) -> None:
        if entry is None:
            return
        if entry == "odd":
            self.odd += 1
            return
        hn, rn = entry
        run = self.parts.get(hn)
        if run is None:
            run = self.parts[hn] = Run()
        keys, items = run.keys, run.items
        pos = bisect_right(keys, rn)
        if pos and keys[pos - 1] == rn:
            tie = self.tie(item)
            while pos and keys[pos - 1] == rn and self.tie(items[pos - 1]) > tie:
                pos -= 1
        keys.insert(pos, rn)
        items.insert(pos, item)

    def remove(self, item, entry) -> None:
        if entry is None:
            return
        if entry == "odd":
            self.odd -= 1
            return
        hn, rn = entry
        run = self.parts.get(hn)
        if run is None:
            return
        keys, items = run.keys, run.items
        for pos in range(bisect_left(keys, rn), bisect_right(keys, rn)):
            if items[pos] is item:
                del keys[pos], items[pos]
                break
        if not keys:
            del self.parts[hn]

    def position_after(self, run, esk_tuple, forward: bool) -> int:
        """Ascending index of the first item a page that starts after `esk_tuple` (index range,
        table hash, table range) may return: forward, the first one greater; backward, one
        past the last one smaller (the walk goes down from the index before it)."""
        rn = esk_tuple[0]
        lo, hi = bisect_left(run.keys, rn), bisect_right(run.keys, rn)
        rest = esk_tuple[1:]
        if forward:
            while lo < hi and self.tie(run.items[lo]) <= rest:
                lo += 1
            return lo
        while hi > lo and self.tie(run.items[hi - 1]) >= rest:
            hi -= 1
        return hi


class TableIndex:
    __slots__ = ("hash_attr", "hash_type", "range_attr", "range_type", "parts", "gsis",
                 "max_size")

    def __init__(self, hash_attr, hash_type, range_attr, range_type, gsis) -> None:
        self.hash_attr, self.hash_type = hash_attr, hash_type
        self.range_attr, self.range_type = range_attr, range_type
        self.parts: dict = {}
        self.gsis: dict[str, GsiIndex] = gsis
        # The largest item ever stored (in moto's size units): while a page of them cannot
        # reach moto's 1 MB result limit, a Query need not size the items it returns.
        self.max_size = 0

    def key_of(self, item):
        return native_of(item.hash_key, self.hash_type), native_of(item.range_key, self.range_type)

    def find(self, hn, rn):
        run = self.parts.get(hn)
        if run is None:
            return None
        pos = bisect_left(run.keys, rn)
        if pos < len(run.keys) and run.keys[pos] == rn:
            return run.items[pos]
        return None

    def on_put(self, item, size: int) -> None:
        self.max_size = max(self.max_size, size)
        hn, rn = self.key_of(item)
        run = self.parts.get(hn)
        if run is None:
            run = self.parts[hn] = Run()
        keys, items = run.keys, run.items
        pos = bisect_left(keys, rn)
        old = None
        if pos < len(keys) and keys[pos] == rn:
            old = items[pos]
            items[pos] = item
        else:
            keys.insert(pos, rn)
            items.insert(pos, item)
        for gsi in self.gsis.values():
            if old is not None:
                gsi.remove(old, gsi.entry(old.attrs))
            gsi.add(item, gsi.entry(item.attrs))

    def on_delete(self, item) -> None:
        hn, rn = self.key_of(item)
        run = self.parts.get(hn)
        if run is not None:
            pos = bisect_left(run.keys, rn)
            if pos < len(run.keys) and run.items[pos] is item:
                del run.keys[pos], run.items[pos]
                if not run.keys:
                    del self.parts[hn]
        for gsi in self.gsis.values():
            gsi.remove(item, gsi.entry(item.attrs))

    def entries(self, attrs) -> dict:
        return {name: gsi.entry(attrs) for name, gsi in self.gsis.items()}

    def on_update(self, item, before: dict, size: int) -> None:
        """An item changed in place (UpdateItem): move its GSI entries."""
        self.max_size = max(self.max_size, size)
        for name, gsi in self.gsis.items():
            after = gsi.entry(item.attrs)
            if after != before.get(name):
                gsi.remove(item, before.get(name))
                gsi.add(item, after)


def _attribute_types(table) -> dict[str, str]:
    return {a["AttributeName"]: a["AttributeType"] for a in table.attr}


def _gsi_of(index, types: dict, table_keys) -> GsiIndex | None:
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hashes) != 1 or len(ranges) != 1:
        return None
    hash_type, range_type = types.get(hashes[0]), types.get(ranges[0])
    if hash_type not in KEY_TYPES or range_type not in KEY_TYPES:
        return None
    return GsiIndex(index.name, hashes[0], hash_type, ranges[0], range_type, table_keys)


def build(table) -> TableIndex | None:
    """A fresh index of everything the table holds; None if the table's shape is one the
    index does not cover (moto then answers as it always did)."""
    if not table.range_key_attr:
        return None
    if table.hash_key_type not in KEY_TYPES or table.range_key_type not in KEY_TYPES:
        return None
    types = _attribute_types(table)
    table_keys = (table.hash_key_attr, table.hash_key_type,
                  table.range_key_attr, table.range_key_type)
    gsis = {}
    for gsi in table.global_indexes:
        made = _gsi_of(gsi, types, table_keys)
        if made is not None:
            gsis[gsi.name] = made
    index = TableIndex(table.hash_key_attr, table.hash_key_type,
                       table.range_key_attr, table.range_key_type, gsis)
    everything = []
    for partition in table.items.values():
        for item in partition.values():
            everything.append((index.key_of(item), item))
            index.max_size = max(index.max_size, item_size(item))
    everything.sort(key=lambda pair: pair[0])
    for (hn, rn), item in everything:
        run = index.parts.get(hn)
        if run is None:
            run = index.parts[hn] = Run()
        run.keys.append(rn)
        run.items.append(item)
    for gsi in gsis.values():
        grouped: dict = {}
        for _, item in everything:
            entry = gsi.entry(item.attrs)
            if entry == "odd":
                gsi.odd += 1
            elif entry is not None:
                grouped.setdefault(entry[0], []).append((entry[1], gsi.tie(item), item))
        for hn, rows in grouped.items():
            rows.sort(key=lambda row: (row[0], row[1]))
            run = gsi.parts[hn] = Run()
            run.keys = [row[0] for row in rows]
            run.items = [row[2] for row in rows]
    return index


def checked_run(table, known: TableIndex, hn, hash_dt):
    """The partition's run and the index, after a cheap check that no write path went around
    the index (moto's partition and the run hold as many items); rebuilt if they do not."""
    run = known.parts.get(hn)
    partition = table.items.get(hash_dt)
    if len(partition or ()) != (len(run.keys) if run is not None else 0):
        print(f"orderhist emulator: index of {table.name} out of step; rebuilt", flush=True)
        # Not None: the table had an index, and a table's key schema never changes.
        known = of(table, rebuild=True)  # type: ignore[assignment]
        run = known.parts.get(hn)
    return run, known


def of(table, rebuild: bool = False) -> TableIndex | None:
    """The table's index, built on first use (and again on `rebuild`)."""
    state = table.__dict__
    if rebuild or ATTRIBUTE not in state:
        state[ATTRIBUTE] = build(table)
    return state[ATTRIBUTE]


def existing(table) -> TableIndex | None:
    return table.__dict__.get(ATTRIBUTE)
