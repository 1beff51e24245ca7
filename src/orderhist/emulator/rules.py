"""AWS's checks and reply shapes where moto differs, applied in both modes (fast and stock),
in front of the routing: a request AWS refuses is refused here with AWS's error, before moto
can crash on it or accept it; a moto reply that carries what AWS would not send is put right.

Sources: DynamoDB API reference (BatchWriteItem: at most 25 requests, no two on one key;
ReturnConsumedCapacity: ConsumedCapacity only when asked, INDEXES names global indexes under
GlobalSecondaryIndexes), the AttributeValue shape (exactly one member set), Kinesis PutRecord
(data blob plus partition key at most 1 MiB) and GetRecords (InvalidArgumentException for an
iterator that is not one).
"""
from __future__ import annotations

import base64
import binascii

from orderhist.emulator import sizes
from orderhist.emulator.wire import (
    DYNAMODB,
    KINESIS,
    account_of,
    kinesis_error,
    region_of,
    validation,
)
from orderhist.errors import UsageProblem

MAX_BATCH_WRITE = 25
MAX_RECORD_BYTES = 1024 * 1024
AV_TYPES = {"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"}
EMPTY_AV = ("Supplied AttributeValue is empty, must contain exactly one of the supported "
            "datatypes")
MANY_AV = ("Supplied AttributeValue has more than one datatypes set, must contain exactly one "
           "of the supported datatypes")
TOO_LARGE = "Item size has exceeded the maximum allowed size"
DUPLICATES = "Provided list of item keys contains duplicates"
BAD_START_KEY = "The provided starting key is invalid: The provided key element does not " \
                "match the schema"


class Refused(UsageProblem):
    """A request AWS refuses; `check` answers it with AWS's ValidationException."""


def check(target: str, body: dict, environ):
    """AWS's error for a request it refuses (a Reply), or None."""
    try:
        if target.startswith(DYNAMODB):
            _dynamodb(target[len(DYNAMODB):], body, environ)
        elif target.startswith(KINESIS):
            return _kinesis(target[len(KINESIS):], body)
    except Refused as refused:
        return validation(target, str(refused))
    return None


# ---------------------------------------------------------------------------------------------
# DynamoDB

def _value(raw) -> None:
    if type(raw) is not dict:
        return  # a shape error: moto's (or botocore's) to report
    if not raw:
        raise Refused(EMPTY_AV)
    if len(raw) > 1 and set(raw) <= AV_TYPES:
        raise Refused(MANY_AV)
    for kind, value in raw.items():
        if kind == "N" and type(value) is str:
            _number(value)
        elif kind == "NS" and type(value) is list:
            for member in value:
                if type(member) is str:
                    _number(member)
        elif kind == "L" and type(value) is list:
            for member in value:
                _value(member)
        elif kind == "M" and type(value) is dict:
            _values(value)


def _number(text: str) -> str:
    try:
        return sizes.normal_number(text)
    except sizes.NumberError as error:
        raise Refused(str(error)) from None


def _values(mapping) -> None:
    if type(mapping) is dict:
        for raw in mapping.values():
            _value(raw)


def _item(item) -> None:
    """An item's values checked and its size (as AWS counts it) held to the limit. The flat
    scalars that make up most items are measured in line: this runs on every write."""
    if type(item) is not dict:
        return
    size = 0
    text_size, number_size = sizes.text_size, sizes.number_size
    for name, raw in item.items():
        if type(name) is not str:
            return  # a shape error: moto's to report
        if type(raw) is dict and len(raw) == 1:
            (kind, value), = raw.items()
            if kind == "S" and type(value) is str:
                size += text_size(name) + text_size(value)
                continue
            if kind == "N" and type(value) is str:
                size += text_size(name) + number_size(_number(value))
                continue
            if kind in ("BOOL", "NULL"):
                size += text_size(name) + 1
                continue
        _value(raw)
        size += text_size(name) + _size(raw)
    if size > sizes.ITEM_SIZE_LIMIT:
        raise Refused(TOO_LARGE)


def _size(raw) -> int:
    try:
        return sizes.wire_size(_normal(raw))
    except (TypeError, ValueError, AttributeError):
        return 0  # a malformed value: refused elsewhere


def _normal(raw):
    if type(raw) is dict and len(raw) == 1:
        (kind, value), = raw.items()
        if kind == "N" and type(value) is str:
            return {"N": sizes.normal_number(value)}
        if kind == "NS" and type(value) is list:
            return {"NS": [sizes.normal_number(member) for member in value]}
        if kind == "L" and type(value) is list:
            return {"L": [_normal(member) for member in value]}
        if kind == "M" and type(value) is dict:
            return {"M": {name: _normal(member) for name, member in value.items()}}
    return raw


def _table(environ, name):
    if type(name) is not str:
        return None
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[account_of(environ)][region_of(environ)].tables.get(name)


def _key_of(table, item) -> tuple | None:
    """The key's values as DynamoDB compares them (numbers normalised); None if absent."""
    try:
        hash_value = _scalar(item[table.hash_key_attr])
        if not table.range_key_attr:
            return (hash_value,)
        return hash_value, _scalar(item[table.range_key_attr])
    except (KeyError, TypeError, ValueError):
        return None


def _scalar(raw) -> tuple:
    (kind, value), = raw.items()
    if kind == "N":
        value = sizes.normal_number(value)
    return kind, value if type(value) is str else repr(value)


def _dynamodb(operation: str, body: dict, environ) -> None:
    _values(body.get("ExpressionAttributeValues"))
    if operation == "PutItem":
        _item(body.get("Item"))
    elif operation in ("GetItem", "DeleteItem", "UpdateItem"):
        _values(body.get("Key"))
    elif operation == "BatchWriteItem":
        _batch_write(body, environ)
    elif operation == "BatchGetItem" and type(body.get("RequestItems")) is dict:
        for request in body["RequestItems"].values():
            for key in (request.get("Keys") or []) if type(request) is dict else []:
                _values(key)
    elif operation == "TransactWriteItems" and type(body.get("TransactItems")) is list:
        for entry in body["TransactItems"]:
            for _kind, action in (entry.items() if type(entry) is dict else ()):
                if type(action) is dict:
                    _item(action.get("Item"))
                    _values(action.get("Key"))
                    _values(action.get("ExpressionAttributeValues"))
    elif operation in ("Query", "Scan"):
        _start_key(body, environ)


def _batch_write(body: dict, environ) -> None:
    requests_by_table = body.get("RequestItems")
    if type(requests_by_table) is not dict:
        return
    total = sum(len(requests) for requests in requests_by_table.values()
                if type(requests) is list)
    if total > MAX_BATCH_WRITE:
        raise Refused("Too many items requested for the BatchWriteItem call")
    for name, requests in requests_by_table.items():
        if type(requests) is not list:
            continue
        table = _table(environ, name)
        seen = set()
        for request in requests:
            if type(request) is not dict:
                continue
            put, delete = request.get("PutRequest"), request.get("DeleteRequest")
            item = put.get("Item") if type(put) is dict else None
            key = delete.get("Key") if type(delete) is dict else None
            _item(item)
            _values(key)
            target = item if item is not None else key
            at = _key_of(table, target) if table is not None and type(target) is dict else None
            if at is not None:
                # A put and a delete of one key count as two requests for it, as two puts do.
                if at in seen:
                    raise Refused(DUPLICATES)
                seen.add(at)


def _start_key(body: dict, environ) -> None:
    start = body.get("ExclusiveStartKey")
    if type(start) is not dict:
        return
    _values(start)
    table = _table(environ, body.get("TableName"))
    if table is None:
        return
    wanted = {table.hash_key_attr} | ({table.range_key_attr} if table.range_key_attr else set())
    index_name = body.get("IndexName")
    if index_name is not None:
        indexes = {index.name: index for index in
                   list(table.global_indexes) + list(table.indexes)}
        index = indexes.get(index_name)
        if index is None:
            return  # moto's error for an unknown index
        wanted |= {key["AttributeName"] for key in index.schema}
    if not wanted <= set(start):
        raise Refused(BAD_START_KEY)


def fix_dynamodb_reply(operation: str, request: dict, reply: dict, environ) -> bool:
    """Put right what moto's reply carries that AWS's would not; True if changed."""
    mode = request.get("ReturnConsumedCapacity", "NONE")
    changed = False
    if "ConsumedCapacity" in reply and mode not in ("TOTAL", "INDEXES"):
        del reply["ConsumedCapacity"]
        return True
    if operation == "BatchWriteItem" and mode == "TOTAL":
        for entry in reply.get("ConsumedCapacity", ()):
            changed = entry.pop("Table", None) is not None or changed
    consumed = reply.get("ConsumedCapacity")
    if mode == "INDEXES" and type(consumed) is dict and "LocalSecondaryIndexes" in consumed:
        table = _table(environ, request.get("TableName"))
        global_names = {index.name for index in table.global_indexes} if table else set()
        local = consumed["LocalSecondaryIndexes"]
        moved = {name: units for name, units in local.items() if name in global_names}
        if moved:
            consumed["GlobalSecondaryIndexes"] = moved
            for name in moved:
                del local[name]
            if not local:
                del consumed["LocalSecondaryIndexes"]
            changed = True
    return changed


# ---------------------------------------------------------------------------------------------
# Kinesis

def _kinesis(operation: str, body: dict):
    if operation == "PutRecord":
        data, key = body.get("Data"), body.get("PartitionKey")
        if type(data) is str and type(key) is str:
            try:
                size = len(binascii.a2b_base64(data)) + len(key.encode("utf-8"))
            except (binascii.Error, ValueError):
                return None
            if size > MAX_RECORD_BYTES:
                return kinesis_error(
                    "400 Bad Request", "ValidationException",
                    "1 validation error detected: Value at 'data' failed to satisfy "
                    "constraint: Member must have length less than or equal to 1048576")
    elif operation == "GetRecords":
        iterator = body.get("ShardIterator")
        if type(iterator) is str and not valid_iterator(iterator):
            return kinesis_error("400 Bad Request", "InvalidArgumentException",
                                 f"Invalid ShardIterator: {iterator}")
    return None


def valid_iterator(iterator: str) -> bool:
    """Whether the iterator is one this emulator (moto) made: base64 of stream:shard:number."""
    try:
        decoded = base64.b64decode(iterator.encode("ascii"), validate=False).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        return False
    parts = decoded.split(":")
    return len(parts) == 3 and parts[1].startswith("shardId-") and parts[2].lstrip("-").isdigit()
