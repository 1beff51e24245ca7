import ast
import sys
from pathlib import Path

import pytest

from orderhist import schema


def test_schema_imports_only_the_standard_library():
    # It ships in the Lambda zip, which holds no pandas and no orderhist module it would need.
    tree = ast.parse(Path(schema.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    imported.discard("orderhist.errors")  # in the zip too, and imports nothing itself
    assert {name.split(".")[0] for name in imported} <= \
        set(sys.stdlib_module_names) | {"__future__"}


def test_sort_key_round_trips_and_sorts_by_date_then_invoice_then_line():
    key = schema.sort_key("2010-12-01T08:26:00", "C536365", 7)
    assert key == "2010-12-01T08:26:00#C536365#0000007"
    assert schema.parse_sort_key(key) == ("2010-12-01T08:26:00", "C536365", 7)
    assert schema.sort_key("2010-12-01T08:26:00", "536365", 10) > \
        schema.sort_key("2010-12-01T08:26:00", "536365", 9)


@pytest.mark.parametrize("text", ["", "2010-12-01", "a#b", "2010#536365#x"])
def test_a_text_that_is_no_sort_key_is_refused(text):
    with pytest.raises(schema.SortKeyError, match="is not <date>#<invoice>#<line>"):
        schema.parse_sort_key(text)


def test_until_bound_takes_every_line_of_its_last_second_and_no_later_one():
    bound = schema.until_bound("2010-12-01T08:26:00")
    assert schema.sort_key("2010-12-01T08:26:00", "z9999999", 9_999_999) < bound
    assert schema.sort_key("2010-12-01T08:26:01", "0", 1) > bound


def test_a_guest_line_has_a_partition_of_its_own_invoice():
    assert schema.partition_key(None, "536365") == "GUEST#536365"
    assert schema.customer_of(schema.partition_key(None, "536365")) is None
    assert schema.customer_of(schema.partition_key("17850", "536365")) == "17850"


def test_key_of_reads_back_what_key_writes():
    item = {**schema.key("17850", "2010-12-01T08:26:00#536365#0000001"), "Quantity": {"N": "6"}}
    assert schema.key_of(item) == ("17850", "2010-12-01T08:26:00#536365#0000001")


def test_table_shape_defines_exactly_the_attributes_its_keys_use():
    shape = schema.table_shape("t")
    defined = {d["AttributeName"] for d in shape["AttributeDefinitions"]}
    used = {k["AttributeName"] for k in shape["KeySchema"]}
    for index in shape["GlobalSecondaryIndexes"]:
        used |= {k["AttributeName"] for k in index["KeySchema"]}
    assert defined == used  # DynamoDB refuses a definition no key uses
