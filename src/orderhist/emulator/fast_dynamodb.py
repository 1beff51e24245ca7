"""DynamoDB BatchWriteItem and BatchGetItem answered from moto's own Table objects, plus the
pieces the other fast DynamoDB handlers share (wire forms of moto's DynamoType, table and key
lookups, the checks of a put).

BatchWriteItem checks every request the way moto would before writing any (key presence,
types and sizes, empty keys, numbers, item size); a batch it is not sure of goes to moto
whole. Puts are then stored by `patches.store` (what Table.put_item does for an
unconditional put, the index and DynamoDB Streams included), deletes by moto's delete_item.
Injected faults: requests returned as UnprocessedItems, 500s.
"""
from __future__ import annotations

import base64
import json
from decimal import Decimal
from json.encoder import encode_basestring_ascii as _quote

from orderhist.emulator import index as table_index
from orderhist.emulator.patches import store
from orderhist.emulator.sizes import (
    ITEM_SIZE_LIMIT,
    NumberError,
    item_size,
    normal_number,
    number_size,
    text_size,
    value_size,
)
from orderhist.emulator.wire import dynamodb_error, dynamodb_reply, dynamodb_reply_text

BATCH_GET_SIZE_LIMIT = 16 * 1024 * 1024
MAX_BATCH_WRITE = 25
CAPACITY_MODES = ("NONE", "TOTAL", "INDEXES")


def backend(call):
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[call.account][call.region]


def table_named(call, name):
    if type(name) is not str:
        return None
    return backend(call).tables.get(name)


def wire(dt) -> dict:
    """A DynamoType as moto's serializer writes it."""
    kind, value = dt.type, dt.value
    if kind in ("S", "N", "BOOL", "NULL"):
        return {kind: value}
    if kind in ("SS", "NS"):
        return {kind: list(value)}
    if kind == "L":
        return {"L": [wire(member) for member in value]}
    if kind == "M":
        return {"M": {key: wire(member) for key, member in value.items()}}
    if kind == "B":
        return {"B": _canonical_base64(value)}
    if kind == "BS":
        return {"BS": [_canonical_base64(member) for member in value]}
    return {kind: value}


def _canonical_base64(value) -> str:
    raw = value if type(value) is bytes else base64.b64decode(value)
    return base64.b64encode(raw).decode("ascii")


def item_json(item) -> str:
    """The item as json.dumps would write its wire form, character for character, in under
    half the time: the scalars are written directly with json's own string quoting."""
    parts = []
    for key, dt in item.attrs.items():
        kind, value = dt.type, dt.value
        if (kind == "S" or kind == "N") and type(value) is str:
            parts.append(f'{_quote(key)}: {{"{kind}": {_quote(value)}}}')
        elif kind == "BOOL" and type(value) is bool:
            parts.append(f'{_quote(key)}: {{"BOOL": {"true" if value else "false"}}}')
        else:
            parts.append(f"{_quote(key)}: {json.dumps(wire(dt))}")
    return "{" + ", ".join(parts) + "}"


def capacity_json(mode: str, table_name: str, units: float, index_name=None) -> str:
    """The ConsumedCapacity moto's include_consumed_capacity adds (to PutItem, GetItem and
    Query) as JSON, a global index named as AWS names it; "" when none was asked for."""
    if mode == "TOTAL":
        return json.dumps({"TableName": table_name, "CapacityUnits": units})
    if mode == "INDEXES":
        consumed = {"TableName": table_name, "CapacityUnits": units,
                    "Table": {"CapacityUnits": units}}
        if index_name:
            # The fast Query serves global indexes only; AWS names them as such.
            consumed["GlobalSecondaryIndexes"] = {index_name: {"CapacityUnits": units}}
        return json.dumps(consumed)
    return ""


def typed_native(raw, kind: str):
    """The native key value of a wire value that must be of `kind`; None if it is not."""
    if type(raw) is not dict or len(raw) != 1 or kind not in raw:
        return None
    value = raw[kind]
    if kind == "S" and value == "":
        return None
    return table_index.native(kind, value)


# ---------------------------------------------------------------------------------------------
# BatchWriteItem

def put_checked(table, item, key_names, hash_names, range_names) -> tuple | None:
    """(hash, range, size) of an item if moto's Table.put_item would store it as it is: flat
    scalar attributes (S, N, BOOL, NULL: the shapes moto keeps exactly as they arrive) that
    pass the checks moto makes - key presence and types, empty keys, numbers, NULL, key sizes
    - and AWS's item size limit. `size` is in moto's units (what its Query pages on), numbers
    counted as stored. None for anything else: moto will take the whole batch."""
    from moto.dynamodb.limits import HASH_KEY_MAX_LENGTH, RANGE_KEY_MAX_LENGTH

    if type(item) is not dict:
        return None
    size = aws_size = 0
    for name, raw in item.items():
        if type(raw) is not dict or len(raw) != 1 or type(name) is not str:
            return None
        (kind, value), = raw.items()
        name_size = text_size(name)
        if kind == "S" and type(value) is str:
            if not value and name in key_names:
                return None  # moto's empty-key error
            length = len(value) if value.isascii() else len(value.encode("utf-8"))
            aws_size += name_size + length
        elif kind == "N" and type(value) is str:
            try:
                # Stricter than moto's own check (Table._validate_number_type): what this
                # accepts, moto does; what it refuses, `rules` answers with AWS's error.
                stored = normal_number(value)
            except NumberError:
                return None
            length = len(stored)
            aws_size += name_size + number_size(stored)
        elif kind in ("BOOL", "NULL") and type(value) is bool and (kind == "BOOL" or value):
            size += name_size + 1
            aws_size += name_size + 1
            continue
        else:
            return None
        size += name_size + length
        if (name in hash_names and length > HASH_KEY_MAX_LENGTH
                or name in range_names and length > RANGE_KEY_MAX_LENGTH):
            return None
    if aws_size > ITEM_SIZE_LIMIT:
        return None
    hn = typed_native(item.get(table.hash_key_attr), table.hash_key_type)
    rn = typed_native(item.get(table.range_key_attr), table.range_key_type)
    if hn is None or rn is None:
        return None
    return hn, rn, size


def key_natives(table, key) -> tuple | None:
    if type(key) is not dict or set(key) != {table.hash_key_attr, table.range_key_attr}:
        return None
    hn = typed_native(key[table.hash_key_attr], table.hash_key_type)
    rn = typed_native(key[table.range_key_attr], table.range_key_type)
    return None if hn is None or rn is None else (hn, rn)


def _plan_writes(call, requests_by_table):
    """[(table_name, table, "put"|"delete", payload, request)] or None to decline."""
    puts, deletes = [], []
    # moto compares requests across the whole call, whatever their table.
    # Two requests on one key (puts, deletes, or one of each) are AWS's ValidationException,
    # given by `rules` once this declines; so are more than 25 requests.
    keys = set()
    if sum(len(r) for r in requests_by_table.values() if type(r) is list) > MAX_BATCH_WRITE:
        return None
    for name, requests in requests_by_table.items():
        table = table_named(call, name)
        if table is None or not table.range_key_attr or type(requests) is not list \
                or not requests:
            return None
        key_names = set(table.attribute_keys)
        for gsi in table.global_indexes:
            key_names.update(gsi.schema_key_attrs)
        hash_names, range_names = set(table.hash_key_names), set(table.range_key_names)
        for request in requests:
            if type(request) is not dict or len(request) != 1:
                return None
            (kind, body), = request.items()
            if kind == "PutRequest" and type(body) is dict and set(body) == {"Item"}:
                checked = put_checked(table, body["Item"], key_names, hash_names, range_names)
                if checked is None or checked[:2] in keys:
                    return None
                keys.add(checked[:2])
                puts.append((name, table, "put", (body["Item"], checked[2]), request))
            elif kind == "DeleteRequest" and type(body) is dict and set(body) == {"Key"}:
                at = key_natives(table, body["Key"])
                if at is None or at in keys:
                    return None
                keys.add(at)
                deletes.append((name, table, "delete", body["Key"], request))
            else:
                return None
    # moto writes every put of the call, then every delete.
    return puts + deletes


def batch_write_item(call, lock):
    body = call.body
    if not set(body) <= {"RequestItems", "ReturnConsumedCapacity",
                         "ReturnItemCollectionMetrics"}:
        return None
    if body.get("ReturnConsumedCapacity", "NONE") not in CAPACITY_MODES:
        return None
    requests_by_table = body.get("RequestItems")
    if type(requests_by_table) is not dict or not requests_by_table:
        return None
    with lock:
        plan = _plan_writes(call, requests_by_table)
        if plan is None:
            return None
        injector = call.injector
        if injector.server_error("BatchWriteItem"):
            return dynamodb_error("500 Internal Server Error", "InternalServerError",
                                  "Internal server error")
        skipped = injector.failed_entries("BatchWriteItem", len(plan))
        unprocessed: dict = {}
        moto = backend(call)
        for (name, table, kind, payload, request), skip in zip(plan, skipped):
            if skip:
                unprocessed.setdefault(name, []).append(request)
            elif kind == "put":
                store(table, *payload)
            else:
                moto.delete_item(name, payload)
    reply = {"UnprocessedItems": unprocessed, "ItemCollectionMetrics": {}}
    # ConsumedCapacity only when asked for, per table; the table's share only for INDEXES.
    mode = body.get("ReturnConsumedCapacity", "NONE")
    if mode == "TOTAL":
        reply["ConsumedCapacity"] = [{"TableName": name, "CapacityUnits": 1.0}
                                     for name in requests_by_table]
    elif mode == "INDEXES":
        reply["ConsumedCapacity"] = [{"TableName": name, "CapacityUnits": 1.0,
                                      "Table": {"CapacityUnits": 1.0}}
                                     for name in requests_by_table]
    return dynamodb_reply(reply)


# ---------------------------------------------------------------------------------------------
# BatchGetItem

def projection(expression, names) -> list[str] | None:
    """Top-level attribute names of a ProjectionExpression moto would accept; [] for none."""
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    if names is not None and type(names) is not dict:
        return None
    names = names or {}
    if expression is None:
        return [] if not names else None
    if type(expression) is not str:
        return None
    parts = [part.strip() for part in expression.split(",")]
    if len(set(parts)) != len(parts):
        return None
    reserved = ReservedKeywords.get_reserved_keywords()
    out, used = [], set()
    for part in parts:
        if part.startswith("#"):
            target = names.get(part)
            if type(target) is not str or not part[1:].replace("_", "a").isalnum():
                return None
            used.add(part)
            out.append(target)
        elif part and (part[0].isalpha() or part[0] == "_") \
                and part.replace("_", "a").isalnum() and part.upper() not in reserved \
                and part not in names:
            out.append(part)
        else:
            return None
    if set(names) - used:
        return None
    return out


def projected(item, attributes: list[str]) -> str | None:
    """The projected attributes as JSON, as moto's round trip through Python values writes
    them; None where that round trip would change a value (it is then moto's to answer)."""
    parts = []
    for name in attributes:
        dt = item.attrs.get(name)
        if dt is None:
            continue
        kind, value = dt.type, dt.value
        if kind == "N":
            try:
                if str(Decimal(value)) != value:
                    return None
            except ArithmeticError:
                return None
        elif kind not in ("S", "BOOL", "NULL"):
            return None
        if type(value) is str:
            parts.append(f'{_quote(name)}: {{"{kind}": {_quote(value)}}}')
        else:
            parts.append(f"{_quote(name)}: {json.dumps({kind: value})}")
    return "{" + ", ".join(parts) + "}"


def projected_size(item, attributes: list[str]) -> int:
    return sum(text_size(name) + value_size(item.attrs[name])
               for name in attributes if name in item.attrs)


def batch_get_item(call, lock):
    body = call.body
    if not set(body) <= {"RequestItems", "ReturnConsumedCapacity"}:
        return None
    if body.get("ReturnConsumedCapacity", "NONE") not in CAPACITY_MODES:
        return None
    wanted = body.get("RequestItems")
    if type(wanted) is not dict or not wanted:
        return None
    plans = []
    total = 0
    for name, request in wanted.items():
        table = table_named(call, name)
        if table is None or type(request) is not dict or not set(request) <= {
                "Keys", "ConsistentRead", "ProjectionExpression", "ExpressionAttributeNames"}:
            return None
        keys = request.get("Keys")
        if type(keys) is not list or not 1 <= len(keys) <= 100:
            return None
        total += len(keys)
        attributes = projection(request.get("ProjectionExpression"),
                                 request.get("ExpressionAttributeNames"))
        if attributes is None:
            return None
        plans.append((name, table, keys, attributes))
    if total > 100:
        return None
    responses, unprocessed, capacity = [], {}, []
    size = 0
    with lock:
        indexes = [table_index.of(table) for _, table, _, _ in plans]
        if any(known is None for known in indexes):
            return None
        # Sizes matter only if this many items of the largest size ever stored could pass
        # the 16 MB a BatchGetItem returns.
        sized = total * max(known.max_size for known in indexes) > BATCH_GET_SIZE_LIMIT
        for (name, table, keys, attributes), known in zip(plans, indexes):
            found, seen = [], set()
            for key in keys:
                at = key_natives(table, key)
                if at is None or at in seen:
                    return None
                seen.add(at)
                item = known.find(*at)
                if item is None:
                    continue
                shown = projected(item, attributes) if attributes else item_json(item)
                if shown is None:
                    return None
                found.append((key, shown, item, attributes))
            shown_here = []
            for key, shown, item, attributes in found:
                item_bytes = 0
                if sized:
                    item_bytes = (projected_size(item, attributes) if attributes
                                  else item_size(item))
                if size + item_bytes > BATCH_GET_SIZE_LIMIT:
                    unprocessed.setdefault(name, {"Keys": []})["Keys"].append(key)
                else:
                    shown_here.append(shown)
                    size += item_bytes
            responses.append(f"{_quote(name)}: [{', '.join(shown_here)}]")
            capacity.append({"CapacityUnits": float(len(keys)), "TableName": name})
    # ConsumedCapacity only when asked for (moto sends it always; `rules` puts that right).
    consumed = f', "ConsumedCapacity": {json.dumps(capacity)}' \
        if body.get("ReturnConsumedCapacity", "NONE") != "NONE" else ""
    return dynamodb_reply_text(
        f'{{"Responses": {{{", ".join(responses)}}}, "UnprocessedKeys": '
        f'{json.dumps(unprocessed)}{consumed}}}')
