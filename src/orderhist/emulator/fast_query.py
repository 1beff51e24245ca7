"""DynamoDB Query (base table and GSI) answered from the sorted index in O(log n + page).

It reproduces moto's Table.query to the item: candidates are the partition in key order (for
a GSI: index range, then table hash, then table range), reversed for ScanIndexForward=false;
ExclusiveStartKey skips what sorts at or before it; the page ends at Limit or when the next
candidate would push the 1 MB result size over, and LastEvaluatedKey is given whenever moto's
walk would stop early - which moto decides on *any* later candidate of the partition, even one
outside the range condition. A ProjectionExpression of plain attribute names is applied to
the page after it is cut, as moto does. Requests with a FilterExpression, a projection with
#placeholders, KeyConditions, a non-ALL index projection or anything unusual go to moto.
"""
from __future__ import annotations

import json
from bisect import bisect_left, bisect_right

from orderhist.emulator import index as table_index
from orderhist.emulator import keycond
from orderhist.emulator.fast_dynamodb import (
    CAPACITY_MODES,
    capacity_json,
    item_json,
    projected,
    projection,
    table_named,
    typed_native,
    wire,
)
from orderhist.emulator.sizes import item_size
from orderhist.emulator.wire import dynamodb_reply_text

QUERY_KEYS = {"TableName", "IndexName", "KeyConditionExpression", "ExpressionAttributeNames",
              "ExpressionAttributeValues", "ScanIndexForward", "Limit", "ExclusiveStartKey",
              "ConsistentRead", "ReturnConsumedCapacity", "Select", "ProjectionExpression"}


def _result_size_limit() -> int:
    from moto.dynamodb.models.table import RESULT_SIZE_LIMIT

    return RESULT_SIZE_LIMIT


def _values_ok(values) -> bool:
    if type(values) is not dict or not values:
        return False
    return all(type(k) is str and k.startswith(":") and type(v) is dict and len(v) == 1
               and v != {"NS": []} for k, v in values.items())


def _interval(keys: list, op, natives: list):
    """[a, b): the ascending positions the range condition keeps."""
    n = len(keys)
    if op is None:
        return 0, n
    value = natives[0]
    if op == "=":
        return bisect_left(keys, value), bisect_right(keys, value)
    if op == "<":
        return 0, bisect_left(keys, value)
    if op == "<=":
        return 0, bisect_right(keys, value)
    if op == ">":
        return bisect_right(keys, value), n
    if op == ">=":
        return bisect_left(keys, value), n
    if op == "BETWEEN":
        a = bisect_left(keys, value)
        return a, max(a, bisect_right(keys, natives[1]))
    # BEGINS_WITH on a string: [prefix, prefix with its last character incremented).
    after = value[:-1] + chr(ord(value[-1]) + 1)
    return bisect_left(keys, value), bisect_left(keys, after)


def _range_natives(cond, kind: str):
    natives = []
    for raw in cond.values:
        native = typed_native(raw, kind)
        if native is None:
            return None
        natives.append(native)
    if cond.op == "BEGINS_WITH" and (kind != "S" or natives[0][-1] == chr(0x10FFFF)):
        return None
    return natives


def query(call, lock):
    body = call.body
    if not set(body) <= QUERY_KEYS:
        return None
    capacity = body.get("ReturnConsumedCapacity", "NONE")
    select = body.get("Select")
    names, values = body.get("ExpressionAttributeNames"), body.get("ExpressionAttributeValues")
    forward, limit = body.get("ScanIndexForward", True), body.get("Limit")
    consistent, esk = body.get("ConsistentRead", False), body.get("ExclusiveStartKey")
    index_name = body.get("IndexName")
    if (capacity not in CAPACITY_MODES or select not in (None, "ALL_ATTRIBUTES", "COUNT")
            or names is not None and (type(names) is not dict
                                      or any(type(v) is not str for v in names.values()))
            or not _values_ok(values) or type(forward) is not bool
            or limit is not None and (type(limit) is not int or limit < 1)
            or type(consistent) is not bool or esk is not None and type(esk) is not dict
            or index_name is not None and type(index_name) is not str):
        return None
    attributes = None
    if "ProjectionExpression" in body:
        # Plain top-level names only (no #placeholders, which the key condition's names
        # would have to share); anything else is moto's to answer.
        attributes = projection(body["ProjectionExpression"], None)
        if not attributes or select is not None:
            return None
    table = table_named(call, body.get("TableName"))
    if table is None:
        return None
    with lock:
        known = table_index.of(table)
        if known is None:
            return None
        gsi = None
        if index_name is not None:
            gsi = known.gsis.get(index_name)
            declared = {i.name: i for i in table.global_indexes}.get(index_name)
            if (gsi is None or gsi.odd or consistent or declared is None
                    or (declared.projection or {}).get("ProjectionType") != "ALL"):
                return None
            hash_attr, hash_type = gsi.hash_attr, gsi.hash_type
            range_attr, range_type = gsi.range_attr, gsi.range_type
        else:
            hash_attr, hash_type = known.hash_attr, known.hash_type
            range_attr, range_type = known.range_attr, known.range_type
        cond = keycond.parse(body.get("KeyConditionExpression"), names, values,
                             hash_attr, range_attr)
        if cond is None or set(names or ()) - cond.names_used or set(values) - cond.values_used:
            return None
        hn = typed_native(cond.hash_value, hash_type)
        natives = _range_natives(cond, range_type) if cond.op else []
        if hn is None or natives is None:
            return None
        run, known = _run(table, known, gsi, hn, cond.hash_value)
        keys, items = (run.keys, run.items) if run is not None else ([], [])
        start = _start(known, gsi, run, hn, esk, forward)
        if start is None:
            return None
        a, b = _interval(keys, cond.op, natives)
        results, stop_early = _walk(items, a, b, start, forward, limit, known.max_size)
        count = len(results)
        text = f'{{"Count": {count}, "ScannedCount": {count}'
        if attributes is not None:
            # moto pages on the whole items' size and projects afterwards: so do we.
            shown = [projected(item, attributes) for item in results]
            if None in shown:
                return None
            text += ', "Items": [' + ", ".join(shown) + "]"
        elif select != "COUNT":
            text += ', "Items": [' + ", ".join(item_json(item) for item in results) + "]"
        if stop_early:
            text += ', "LastEvaluatedKey": ' + json.dumps(_last_key(known, gsi, results[-1]))
    consumed = capacity_json(capacity, body.get("TableName"), 1.0, index_name)
    if consumed:
        text += ', "ConsumedCapacity": ' + consumed
    return dynamodb_reply_text(text + "}")


def _run(table, known, gsi, hn, hash_raw):
    """The candidates' run, and the index (rebuilt if it was found out of step)."""
    if gsi is not None:
        return gsi.parts.get(hn), known
    from moto.dynamodb.models.dynamo_type import DynamoType

    return table_index.checked_run(table, known, hn, DynamoType(hash_raw))


def _start(known, gsi, run, hn, esk, forward):
    """Where the walk may begin, after ExclusiveStartKey: ("from", position) - forward, the
    first ascending position; backward, one past the highest - or ("none",) when moto would
    skip every candidate. None if the key is not one moto could compare."""
    n = len(run.keys) if run is not None else 0
    if esk is None:
        return ("from", 0 if forward else n)
    wanted = [(known.hash_attr, known.hash_type), (known.range_attr, known.range_type)]
    if gsi is not None:
        wanted = [(gsi.hash_attr, gsi.hash_type), (gsi.range_attr, gsi.range_type)] + wanted
    if set(esk) != {name for name, _ in wanted}:
        return None
    natives = [typed_native(esk[name], kind) for name, kind in wanted]
    if any(native is None for native in natives):
        return None
    if natives[0] != hn:
        # Every candidate compares the same way on the hash key: all skipped, or none.
        skip_all = (hn < natives[0]) == forward
        return ("none",) if skip_all else ("from", 0 if forward else n)
    if run is None:
        return ("from", 0)
    if gsi is not None:
        return ("from", gsi.position_after(run, tuple(natives[1:]), forward))
    keys = run.keys
    return ("from", bisect_right(keys, natives[1]) if forward else bisect_left(keys, natives[1]))


def _walk(items, a, b, start, forward, limit, max_size):
    """The page, and whether moto would report a LastEvaluatedKey."""
    if start[0] == "none":
        return [], False
    edge = start[1]
    if forward:
        block = range(max(a, edge), b)
        tail = range(max(b, edge), len(items))
    else:
        top = edge - 1
        block = range(min(b - 1, top), a - 1, -1)
        tail = range(min(a - 1, top), -1, -1)
    size_limit = _result_size_limit()
    pages = min(len(block), limit or len(block))
    if (pages + 1) * max_size <= size_limit:
        # Not even items of the largest size ever stored could reach the size limit here.
        results = [items[p] for p in block[:pages]]
        return results, len(block) > pages or (bool(tail) and pages == limit)
    results, size = [], 0
    for position in block:
        item = items[position]
        item_bytes = item_size(item)
        if len(results) == limit or size + item_bytes > size_limit:
            return results, True
        results.append(item)
        size += item_bytes
    if not tail:
        return results, False
    if len(results) == limit:
        return results, True
    if size > size_limit - max_size:
        # moto checks the size limit against every later candidate, matching or not.
        return results, any(size + item_size(items[p]) > size_limit for p in tail)
    return results, False


def _last_key(known, gsi, item) -> dict:
    key = {known.hash_attr: wire(item.hash_key), known.range_attr: wire(item.range_key)}
    if gsi is not None:
        key[gsi.hash_attr] = wire(item.attrs[gsi.hash_attr])
        key[gsi.range_attr] = wire(item.attrs[gsi.range_attr])
    return key
