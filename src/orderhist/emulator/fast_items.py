"""DynamoDB PutItem and GetItem of one item, answered from moto's own Table objects.

Only the plain forms: a PutItem with no condition (ConditionExpression, Expected) and
ReturnValues NONE, checked the way BatchWriteItem's are; a GetItem by its exact key with an
optional top-level ProjectionExpression. moto takes everything else, errors included.
"""
from __future__ import annotations

from orderhist.emulator import index as table_index
from orderhist.emulator.fast_dynamodb import (
    CAPACITY_MODES,
    capacity_json,
    item_json,
    key_natives,
    projected,
    projection,
    put_checked,
    table_named,
)
from orderhist.emulator.patches import store
from orderhist.emulator.wire import dynamodb_reply_text


def put_item(call, lock):
    body = call.body
    if not set(body) <= {"TableName", "Item", "ReturnValues", "ReturnConsumedCapacity"}:
        return None
    capacity = body.get("ReturnConsumedCapacity", "NONE")
    if body.get("ReturnValues", "NONE") != "NONE" or capacity not in CAPACITY_MODES:
        return None
    table = table_named(call, body.get("TableName"))
    if table is None or not table.range_key_attr:
        return None
    key_names = set(table.attribute_keys)
    gsi_keys = set()
    for gsi in table.global_indexes:
        gsi_keys.update(gsi.schema_key_attrs)
    item = body.get("Item")
    checked = put_checked(table, item, key_names | gsi_keys, set(table.hash_key_names),
                      set(table.range_key_names))
    if checked is None or any(item.get(name) == {"NULL": True} for name in gsi_keys):
        return None  # moto refuses a NULL index key on PutItem
    with lock:
        store(table, item, checked[2])
    extra = capacity_json(capacity, body["TableName"], 1.0)
    return dynamodb_reply_text(f'{{"ConsumedCapacity": {extra}}}' if extra else "{}")


def get_item(call, lock):
    body = call.body
    if not set(body) <= {"TableName", "Key", "ConsistentRead", "ProjectionExpression",
                         "ExpressionAttributeNames", "ReturnConsumedCapacity"}:
        return None
    capacity = body.get("ReturnConsumedCapacity", "NONE")
    names = body.get("ExpressionAttributeNames")
    if capacity not in CAPACITY_MODES or names == {}:
        return None
    attributes = projection(body.get("ProjectionExpression"), names)
    table = table_named(call, body.get("TableName"))
    if attributes is None or table is None:
        return None
    with lock:
        known = table_index.of(table)
        at = key_natives(table, body.get("Key")) if known is not None else None
        if at is None:
            return None
        item = known.find(*at)
        if item is None:
            text = ""
        elif attributes:
            shown_part = projected(item, attributes)
            if shown_part is None:
                return None
            text = f'"Item": {shown_part}'
        else:
            text = f'"Item": {item_json(item)}'
    extra = capacity_json(capacity, body["TableName"], 0.5)
    if extra:
        text = f'{text}, "ConsumedCapacity": {extra}' if text else f'"ConsumedCapacity": {extra}'
    return dynamodb_reply_text("{" + text + "}")
