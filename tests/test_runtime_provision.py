"""The runtime tests' provisioning helpers (helpers/runtime.py; the real provisioning is
stack.py's) make what DESIGN.md describes."""
from __future__ import annotations

from helpers.lines import runtime_order_line as order_line
from helpers.runtime import Stack
from orderhist import records


def test_the_helpers_make_the_designed_table(local_target, unique_name):
    stack = Stack.create(local_target, unique_name)
    table = stack.client("dynamodb").describe_table(TableName=stack.table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["CustomerID", "SK"]
    index = table["GlobalSecondaryIndexes"][0]
    assert index["IndexName"] == "ByInvoice"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["InvoiceNo", "LineNo"]
    assert records.parse_log_line(order_line(7)).line_no == 7
