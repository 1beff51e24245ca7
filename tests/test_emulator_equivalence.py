"""The fast DynamoDB path answers exactly as stock moto does: the same random sequence of
writes (BatchWriteItem, PutItem, DeleteItem, UpdateItem moving GSI keys, TransactWriteItems
with rollbacks) and reads (Query on the table and the GSI with random key conditions,
ScanIndexForward, Limit, ExclusiveStartKey, aliases, spelling; BatchGetItem with projections)
goes to a fast emulator and a stock one, and every response body must be equal."""
from __future__ import annotations

import random

import pytest

from helpers.emulator import Twin, fast_requests
from orderhist.resources.data import table_shape

TABLE = "equivalence"
CUSTOMERS = ["17850", "12583", "c3", "c4", "GUEST#536365", "big"]
DATES = ["2010-12-01T08:26:00", "2010-12-01T09:02:00", "2011-01-04T10:00:00", "2011-06-30T23:59:00"]
INVOICES = ["536365", "536366", "C536379", "536370", "581587"]
TEXTS = ["WHITE HANGING HEART T-LIGHT HOLDER", "SET 7 BABUSHKA NESTING BOXES ", "£ POSTAGE",
         "crème brûlée dish", "emoji 🎁 box", 'quote " and, comma', "[bold] tag"]
NUMBERS = ["6", "-12", "2.55", "0.1", "1E+2", "100.0", "007", "-0", "3.14159"]
# Stored normalised by both ("0.1", "0.0000001", 38 digits kept); picked without a draw.
MORE_NUMBERS = ["0.10", "1e-7", "12345678901234567890123456789012345678"]


def create_table(client) -> None:
    client.create_table(**table_shape(TABLE))


class Model:
    """Random operations over a small key space, so writes overwrite and queries find."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.keys: list[tuple[str, str]] = []

    def key(self, fresh: bool = False) -> tuple[str, str]:
        if self.keys and not fresh and self.rng.random() < 0.7:
            return self.rng.choice(self.keys)
        rng = self.rng
        key = (rng.choice(CUSTOMERS),
               f"{rng.choice(DATES)}#{rng.choice(INVOICES)}#{rng.randrange(40):07d}")
        self.keys.append(key)
        return key

    def item(self, key, nested_ok: bool = True) -> dict:
        rng = self.rng
        item = {"CustomerID": {"S": key[0]}, "SK": {"S": key[1]},
                "InvoiceNo": {"S": rng.choice(INVOICES)},
                "LineNo": {"N": str(rng.randrange(12))},
                "Description": {"S": rng.choice(TEXTS)},
                "Quantity": {"N": rng.choice(NUMBERS)}, "Cancelled": {"BOOL": rng.random() < .2},
                "UnitPrice": {"N": MORE_NUMBERS[len(key[1]) % len(MORE_NUMBERS)]}}
        if rng.random() < 0.1:
            del item["LineNo"]  # not in the index
        if rng.random() < 0.1:
            item["Note"] = {"NULL": True}
        if nested_ok and rng.random() < 0.15:
            item["Extra"] = rng.choice([{"SS": ["b", "a"]}, {"L": [{"N": "1.50"}, {"S": "x"}]},
                                        {"M": {"k": {"BOOL": True}}}, {"B": b"\x00\x01"},
                                        {"L": []}, {"NS": ["2", "1.5"]}])
        if key[0] == "big":
            item["Description"] = {"S": "x" * rng.choice([1000, 90_000, 200_000])}
        return item

    def value(self, kind: str = "S"):
        rng = self.rng
        if kind == "N":
            return {"N": str(rng.randrange(-1, 13))}
        if self.keys and rng.random() < 0.6:
            sk = rng.choice(self.keys)[1]
            return {"S": sk[: rng.randrange(1, len(sk) + 1)]}
        return {"S": rng.choice(DATES + ["2010", "2011-0", "~", "0"])}


def _range_clause(rng, name: str, kind: str, model: Model, values: dict) -> str:
    op = rng.choice(["=", "<", "<=", ">", ">=", "BETWEEN", "between", "begins_with"])
    values[":r1"] = model.value(kind)
    if op.upper() == "BETWEEN":
        values[":r2"] = model.value(kind)
        if rng.random() < 0.7 and kind == "S":
            values[":r1"], values[":r2"] = sorted([values[":r1"], values[":r2"]],
                                                  key=lambda v: v["S"])
        return f"{name} {op} :r1 {rng.choice(['AND', 'and'])} :r2"
    if op == "begins_with":
        if kind == "N":
            values[":r1"] = model.value("S")
        return f"begins_with({name}, :r1)"
    return f"{name}{rng.choice([' ', ''])}{op}{rng.choice([' ', ''])}:r1"


def query_request(model: Model, lek=None) -> dict:
    rng = model.rng
    on_index = rng.random() < 0.3
    hash_name, range_name, kind = (("InvoiceNo", "LineNo", "N") if on_index
                                   else ("CustomerID", "SK", "S"))
    names, values = {}, {}
    if rng.random() < 0.4:
        names["#h"] = hash_name
        hash_name = "#h"
    if rng.random() < 0.4:
        names["#r"] = range_name
        range_name = "#r"
    values[":h"] = {"S": rng.choice(INVOICES if on_index else CUSTOMERS + ["nobody"])}
    clauses = [f"{hash_name} = :h"]
    if rng.random() < 0.7:
        clauses.append(_range_clause(rng, range_name, kind, model, values))
    elif range_name == "#r":
        del names["#r"]
    joiner = f" {rng.choice(['AND', 'and'])} "
    hash_first = joiner.join(clauses)
    rng.shuffle(clauses)
    request = {"TableName": TABLE, "KeyConditionExpression": joiner.join(clauses),
               "ExpressionAttributeValues": values, "ScanIndexForward": rng.random() < 0.5}
    if names:
        request["ExpressionAttributeNames"] = names
    if on_index:
        request["IndexName"] = "ByInvoice"
    if rng.random() < 0.7:
        request["Limit"] = rng.choice([1, 2, 3, 5, 10, 50])
    if lek is not None:
        request["ExclusiveStartKey"] = lek
    elif rng.random() < 0.15:
        customer, sk = model.key()
        start = {"CustomerID": {"S": customer}, "SK": {"S": sk}}
        if on_index:
            start.update(InvoiceNo=values[":h"], LineNo={"N": str(rng.randrange(12))})
        if len(sk) % 5 == 0:  # a key element missing: ValidationException from both
            del start[sorted(start)[len(customer) % len(start)]]
        request["ExclusiveStartKey"] = start
    extra = rng.random()
    if extra < 0.05:
        request["ReturnConsumedCapacity"] = rng.choice(["TOTAL", "INDEXES"])
    elif extra < 0.08:
        request["Select"] = "COUNT"
    elif extra < 0.11:
        request["FilterExpression"] = "Quantity > :q"
        request["ExpressionAttributeValues"][":q"] = {"N": "0"}
    elif extra < 0.13:
        request["ExpressionAttributeValues"][":unused"] = {"S": "x"}
    elif extra < 0.15:
        request["ExpressionAttributeValues"][":h"] = {"N": "1"}  # wrong type
    elif extra < 0.23:  # projections: plain names on the fast path, the rest moto's
        # Chosen from `extra` itself: drawing more would shift every later random operation.
        choices = ["SK, Quantity, UnitPrice", "Quantity", "CustomerID,SK,Nope", "Description",
                   "Quantity, Quantity", "InvoiceNo, LineNo, UnitPrice, Cancelled",
                   "SK, Quantity, UnitPrice", "Country"]
        position = (extra - 0.15) / 0.08 * 10 * len(choices)
        request["ProjectionExpression"] = choices[int(position) % len(choices)]
        if int(position * 7) % 5 == 0:
            request["Select"] = "COUNT" if int(position * 3) % 2 else "SPECIFIC_ATTRIBUTES"
    elif extra < 0.26:  # the legacy form: moto's own path, narrowed to the partition
        hash_attr = "InvoiceNo" if on_index else "CustomerID"
        del request["KeyConditionExpression"], request["ExpressionAttributeValues"]
        request.pop("ExpressionAttributeNames", None)
        request["KeyConditions"] = {hash_attr: {"ComparisonOperator": "EQ",
                                                "AttributeValueList": [values[":h"]]}}
        return request, request
    # stock moto cannot read a BETWEEN before the hash key's clause: ask it in this order
    return request, {**request, "KeyConditionExpression": hash_first}


def write_step(twin: Twin, model: Model) -> None:
    rng = model.rng
    roll = rng.random()
    if roll < 0.45:
        requests, seen = [], set()
        for _ in range(rng.randrange(1, 26)):
            key = model.key()
            if key in seen and rng.random() < 0.9:
                continue
            seen.add(key)
            if rng.random() < 0.8:
                item = model.item(key, nested_ok=rng.random() < .3)
                requests.append({"PutRequest": {"Item": item}})
            else:
                requests.append({"DeleteRequest": {"Key": {"CustomerID": {"S": key[0]},
                                                           "SK": {"S": key[1]}}}})
        # Chosen from `roll` itself: drawing more would shift every later random operation.
        capacity = [{}, {}, {"ReturnConsumedCapacity": "TOTAL"},
                    {"ReturnConsumedCapacity": "INDEXES"}][int(roll * 1000) % 4]
        twin.same("batch_write_item", RequestItems={TABLE: requests}, **capacity)
    elif roll < 0.6:
        extra = rng.choice([{}, {}, {"ReturnValues": "ALL_OLD"},
                            {"ConditionExpression": "attribute_not_exists(SK)"},
                            {"ReturnConsumedCapacity": "TOTAL"}])
        twin.same("put_item", TableName=TABLE, Item=model.item(model.key()), **extra)
    elif roll < 0.7:
        key = model.key()
        twin.same("delete_item", TableName=TABLE,
                  Key={"CustomerID": {"S": key[0]}, "SK": {"S": key[1]}})
    elif roll < 0.85:
        key = model.key()
        moved = {":i": {"S": rng.choice(INVOICES)}, ":l": {"N": str(rng.randrange(12))}}
        update = rng.choice([("SET InvoiceNo = :i, LineNo = :l", moved), ("REMOVE LineNo", None),
                             ("SET Description = :d", {":d": {"S": "upd"}}),
                             ("SET LineNo = :l", {":l": {"S": "odd"}})])
        params = {"TableName": TABLE, "UpdateExpression": update[0],
                  "Key": {"CustomerID": {"S": key[0]}, "SK": {"S": key[1]}}}
        if update[1]:
            params["ExpressionAttributeValues"] = update[1]
        twin.same("update_item", **params)
    else:
        items = []
        for _ in range(rng.randrange(1, 4)):
            key = model.key()
            if rng.random() < 0.5:
                items.append({"Put": {"TableName": TABLE, "Item": model.item(key)}})
            else:
                items.append({"Delete": {"TableName": TABLE, "Key": {
                    "CustomerID": {"S": key[0]}, "SK": {"S": key[1]}},
                    **({"ConditionExpression": "attribute_exists(Nope)"}
                       if rng.random() < 0.3 else {})}})
        twin.same("transact_write_items", TransactItems=items)


def read_step(twin: Twin, model: Model) -> None:
    rng = model.rng
    if rng.random() < 0.15:
        customer, sk = model.key()
        extra = rng.choice([{}, {"ConsistentRead": True},
                            {"ProjectionExpression": "SK, Quantity, Nope"},
                            {"ProjectionExpression": "#d",
                             "ExpressionAttributeNames": {"#d": "Description"}},
                            {"ReturnConsumedCapacity": "TOTAL"}])
        twin.same("get_item", TableName=TABLE, Key={"CustomerID": {"S": customer}, "SK": {"S": sk}},
                  **extra)
        return
    if rng.random() < 0.8:
        request, reference = query_request(model)
        for _ in range(6):  # follow the pages
            result = twin.same("query", reference=reference, **request)
            if result[0] != "ok" or "LastEvaluatedKey" not in result[1]:
                break
            request = {**request, "ExclusiveStartKey": result[1]["LastEvaluatedKey"]}
            reference = {**reference, "ExclusiveStartKey": result[1]["LastEvaluatedKey"]}
        return
    keys = []
    for _ in range(rng.randrange(1, 30)):
        customer, sk = model.key()
        keys.append({"CustomerID": {"S": customer}, "SK": {"S": sk}})
    if rng.random() < 0.8:
        keys = list({repr(k): k for k in keys}.values())
    request = {"Keys": keys, "ConsistentRead": True}
    projection = rng.random()
    if projection < 0.4:
        request["ProjectionExpression"] = "CustomerID, SK, EmittedAt, Quantity"
    elif projection < 0.5:
        request["ProjectionExpression"] = "#c, SK, Description"
        request["ExpressionAttributeNames"] = {"#c": "CustomerID"}
    elif projection < 0.55:
        request["ProjectionExpression"] = "CustomerID, Date"  # a reserved word: an error
    twin.same("batch_get_item", RequestItems={TABLE: request})


@pytest.mark.parametrize("seed", [1, 2])
def test_random_operations_answer_as_stock_moto(twin_targets, seed):
    fast, stock = twin_targets
    twin = Twin("dynamodb", fast, stock)
    if seed == 1:
        create_table(twin.fast)
        create_table(twin.stock)
    model = Model(seed)
    for _step in range(350):
        write_step(twin, model) if model.rng.random() < 0.5 else read_step(twin, model)
    scanned = [sorted(map(repr, outcome[1]["Items"])) for outcome in twin.both(
        "scan", TableName=TABLE)]
    assert scanned[0] == scanned[1]
    served = fast_requests(fast)
    print(served, f"stock crashed on {len(twin.stock_crashes)}")
    # The comparison means something only if the fast path answered most of it.
    assert served.get("Query:fast", 0) > 2 * served.get("Query:moto", 0)
    assert served.get("BatchWriteItem:fast", 0) > served.get("BatchWriteItem:moto", 0)
    assert served.get("BatchGetItem:fast", 0) > served.get("BatchGetItem:moto", 0)
    assert served.get("PutItem:fast", 0) > served.get("PutItem:moto", 0)
    assert served.get("GetItem:fast", 0) > served.get("GetItem:moto", 0)


def _all_pages(twin: Twin, **request) -> tuple:
    pages = []
    while True:
        got = twin.same("query", **request)
        pages.append(got)
        if got[0] != "ok" or "LastEvaluatedKey" not in got[1]:
            return tuple(pages)
        request["ExclusiveStartKey"] = got[1]["LastEvaluatedKey"]


def test_changed_indexes_and_restored_tables_answer_as_stock(twin_targets):
    fast, stock = twin_targets
    twin = Twin("dynamodb", fast, stock)
    name = "reshaped"
    model = Model(9)
    for client in (twin.fast, twin.stock):
        client.create_table(**table_shape(name))
    for _ in range(8):
        requests = [{"PutRequest": {"Item": {**model.item(model.key(fresh=True), nested_ok=False),
                                             "Country": {"S": model.rng.choice("ABC")}}}}
                    for _ in range(25)]
        twin.same("batch_write_item", RequestItems={name: requests})
    by_invoice = {"TableName": name, "IndexName": "ByInvoice", "Limit": 7,
                  "KeyConditionExpression": "InvoiceNo = :i",
                  "ExpressionAttributeValues": {":i": {"S": INVOICES[0]}}}
    _all_pages(twin, **by_invoice)
    twin.both("update_table", TableName=name, AttributeDefinitions=[
        {"AttributeName": n, "AttributeType": t} for n, t in (
            ("CustomerID", "S"), ("SK", "S"), ("Country", "S"), ("LineNo", "N"))],
        GlobalSecondaryIndexUpdates=[
        {"Delete": {"IndexName": "ByInvoice"}},
        {"Create": {"IndexName": "ByCountry", "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": "Country", "KeyType": "HASH"},
                                  {"AttributeName": "LineNo", "KeyType": "RANGE"}]}}])
    twin.same("query", **by_invoice)  # an index that is gone: the same error
    _all_pages(twin, TableName=name, IndexName="ByCountry", Limit=9, ScanIndexForward=False,
               KeyConditionExpression="Country = :c AND LineNo BETWEEN :a AND :b",
               ExpressionAttributeValues={":c": {"S": "B"}, ":a": {"N": "2"}, ":b": {"N": "9"}})
    backups = [client.create_backup(TableName=name, BackupName="before")
               ["BackupDetails"]["BackupArn"] for client in (twin.fast, twin.stock)]
    for client, arn in zip((twin.fast, twin.stock), backups):
        client.restore_table_from_backup(TargetTableName="restored", BackupArn=arn)
    for customer in CUSTOMERS:
        _all_pages(twin, TableName="restored", Limit=11, KeyConditionExpression="CustomerID = :c",
                   ExpressionAttributeValues={":c": {"S": customer}})


def test_concurrent_writers_and_readers_keep_the_index_whole(twin_targets):
    import threading

    from orderhist import aws

    fast = twin_targets[0]
    name = "crowded"
    aws.client("dynamodb", fast).create_table(**table_shape(name))
    written: dict[str, set] = {}
    lock = threading.Lock()
    failures: list = []

    def writer(worker: int) -> None:
        client = aws.client("dynamodb", fast)
        for call in range(30):
            items = [{"CustomerID": {"S": f"c{n % 5}"}, "SK": {"S": f"w{worker}-{call}-{n}"},
                      "InvoiceNo": {"S": f"i{n % 3}"}, "LineNo": {"N": str(call * 25 + n)}}
                     for n in range(25)]
            client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": i}}
                                                        for i in items]})
            with lock:
                for item in items:
                    written.setdefault(item["CustomerID"]["S"], set()).add(item["SK"]["S"])

    def reader() -> None:
        client = aws.client("dynamodb", fast)
        for _ in range(60):
            try:
                client.query(TableName=name, KeyConditionExpression="CustomerID = :c",
                             ExpressionAttributeValues={":c": {"S": "c1"}}, Limit=50)
                client.query(TableName=name, IndexName="ByInvoice",
                             KeyConditionExpression="InvoiceNo = :i",
                             ExpressionAttributeValues={":i": {"S": "i1"}}, Limit=50)
            except Exception as error:
                failures.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    client = aws.client("dynamodb", fast)
    for customer, keys in written.items():
        found = set()
        for page in client.get_paginator("query").paginate(
                TableName=name, KeyConditionExpression="CustomerID = :c",
                ExpressionAttributeValues={":c": {"S": customer}}):
            found |= {item["SK"]["S"] for item in page["Items"]}
        assert found == keys
    on_index = set()
    for invoice in ("i0", "i1", "i2"):
        for page in client.get_paginator("query").paginate(
                TableName=name, IndexName="ByInvoice", KeyConditionExpression="InvoiceNo = :i",
                ExpressionAttributeValues={":i": {"S": invoice}}):
            on_index |= {item["SK"]["S"] for item in page["Items"]}
    assert on_index == set().union(*written.values())
