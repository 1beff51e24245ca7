"""The one guarded place for everything the emulator changes in moto.

Each replacement or wrapper of a moto attribute is declared in CHANGES: its mode (FIX: a
correctness fix applied in both modes; FAST: a speed-up of the fast mode), its owner, the
attribute, and what the original looked like when the replacement was written against it
(its signature, `None` for an attribute moto does not have). The installers (`fixes`,
`patches`, `kinesis_store`, `fast_sqs`) never assign to moto themselves: they hand each
replacement to `apply`'s collector, which refuses anything undeclared.

`apply` first checks every declared original - signature as written down, and still moto's
own (not already replaced by someone else) - and only then changes anything. On any mismatch
the fast mode is off (stock mode, with the fixes whose originals still match) and a one-line
warning says which attributes differ; the server prints it in its log and `status` shows it.
Verified against moto 5.2.x (pyproject pins moto>=5.2,<5.3).
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

FIX, FAST = "fix", "fast"
SUPPORTED_MOTO = ((5, 2), (5, 3))

# (mode, owner, attribute, signature of the original as written against)
CHANGES = [
    (FIX, "moto.awslambda.models:LambdaBackend", "send_kinesis_message",
     "(self, function_name: 'str', kinesis_stream: 'str', kinesis_partition_key: 'str', "
     "kinesis_sequence_number: 'str', kinesis_data: 'str', kinesis_shard_id: 'str') -> "
     "'None'"),
    (FIX, "moto.kinesis.models:Stream", "put_record",
     '(self, partition_key: str, explicit_hash_key: str, data: str) -> tuple[str, str]'),
    (FIX, "moto.awslambda.models:EventSourceMapping", "get_configuration",
     "(self) -> 'dict[str, Any]'"),
    (FIX, "moto.awslambda.models:LambdaFunction", "get_code", "(self) -> 'dict[str, Any]'"),
    (FIX, "moto.dynamodb.models.dynamo_type:DynamoType", "__init__",
     "(self, type_as_dict: 'DynamoType | dict[str, Any]')"),
    (FIX, "moto.dynamodb.models.dynamo_type:LimitedSizeDict", "__setitem__",
     "(self, key: 'str', value: 'Any') -> 'None'"),
    (FIX, "moto.kinesis.models:Shard", "put_record",
     '(self, partition_key: str, data: str, explicit_hash_key: str) -> str'),
    (FAST, "moto.dynamodb.models.dynamo_type:Item", "__init__",
     "(self, hash_key: 'DynamoType', range_key: 'DynamoType | None', attrs: 'dict[str, "
     "Any]')"),
    (FAST, "moto.dynamodb.models.dynamo_type:Item", "__new__",
     "(cls, *args: Any, **kwargs: Any) -> 'BaseModel'"),
    (FAST, "moto.dynamodb.models.table:Table", "put_item",
     '(self, item_attrs: dict[str, typing.Any], expected: dict[str, typing.Any] | None = '
     'None, condition_expression: str | None = None, expression_attribute_names: dict[str, '
     'str] | None = None, expression_attribute_values: dict[str, typing.Any] | None = None, '
     'overwrite: bool = False, return_values_on_condition_check_failure: str | None = None) '
     '-> moto.dynamodb.models.dynamo_type.Item'),
    (FAST, "moto.dynamodb.models.table:Table", "delete_item",
     '(self, hash_key: moto.dynamodb.models.dynamo_type.DynamoType, range_key: '
     'moto.dynamodb.models.dynamo_type.DynamoType | None) -> '
     'moto.dynamodb.models.dynamo_type.Item | None'),
    (FAST, "moto.dynamodb.models.table:Table", "query",
     '(self, hash_key: moto.dynamodb.models.dynamo_type.DynamoType | None, '
     'range_comparison: str | None, range_objs: '
     'list[moto.dynamodb.models.dynamo_type.DynamoType], limit: int, exclusive_start_key: '
     'dict[str, typing.Any], scan_index_forward: bool, projection_expressions: '
     'list[list[str]] | None, index_name: str | None = None, consistent_read: bool = False, '
     'filter_expression: Any = None, hash_key_conditions: list[tuple[str, '
     'moto.dynamodb.models.dynamo_type.DynamoType]] | None = None, range_key_conditions: '
     'list[tuple[str, str, list[moto.dynamodb.models.dynamo_type.DynamoType]]] | None = '
     'None, **filter_kwargs: Any) -> tuple[list[moto.dynamodb.models.dynamo_type.Item], '
     'int, dict[str, typing.Any] | None]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "update_item",
     '(self, table_name: str, key: dict[str, dict[str, typing.Any]], update_expression: '
     'str, expression_attribute_names: dict[str, typing.Any], expression_attribute_values: '
     'dict[str, typing.Any], attribute_updates: dict[str, typing.Any] | None = None, '
     'expected: dict[str, typing.Any] | None = None, condition_expression: str | None = '
     'None, return_values_on_condition_check_failure: str | None = None) -> '
     'moto.dynamodb.models.dynamo_type.Item'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "update_table",
     '(self, name: str, attr_definitions: list[dict[str, str]], global_index: '
     'list[dict[str, typing.Any]], throughput: dict[str, typing.Any], billing_mode: str, '
     'stream_spec: dict[str, typing.Any], deletion_protection_enabled: bool | None, '
     'warm_throughput: dict[str, typing.Any] | None) -> moto.dynamodb.models.table.Table'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "put_item",
     '(self, table_name: str, item_attrs: dict[str, typing.Any], expected: dict[str, '
     'typing.Any] | None = None, condition_expression: str | None = None, '
     'expression_attribute_names: dict[str, typing.Any] | None = None, '
     'expression_attribute_values: dict[str, typing.Any] | None = None, overwrite: bool = '
     'False, return_values_on_condition_check_failure: str | None = None) -> '
     'moto.dynamodb.models.dynamo_type.Item'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "delete_item",
     '(self, table_name: str, key: dict[str, typing.Any], expression_attribute_names: '
     'dict[str, typing.Any] | None = None, expression_attribute_values: dict[str, '
     'typing.Any] | None = None, condition_expression: str | None = None, '
     'return_values_on_condition_check_failure: str | None = None) -> '
     'moto.dynamodb.models.dynamo_type.Item | None'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "get_item",
     '(self, table_name: str, keys: dict[str, typing.Any], projection_expressions: '
     'list[list[str]] | None = None) -> moto.dynamodb.models.dynamo_type.Item | None'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "query",
     '(self, table_name: str, hash_key_dict: dict[str, typing.Any] | None, '
     'range_comparison: str | None, range_value_dicts: list[dict[str, typing.Any]], limit: '
     'int, exclusive_start_key: dict[str, typing.Any], scan_index_forward: bool, '
     'projection_expressions: list[list[str]] | None, index_name: str | None = None, '
     'consistent_read: bool = False, expr_names: dict[str, str] | None = None, expr_values: '
     'dict[str, dict[str, str]] | None = None, filter_expression: str | None = None, '
     'hash_key_conditions: list[tuple[str, dict[str, typing.Any]]] | None = None, '
     'range_key_conditions: Optional[list[tuple[str, str, list[dict[str, Any]]]]] = None, '
     '**filter_kwargs: Any) -> tuple[list[moto.dynamodb.models.dynamo_type.Item], int, '
     'dict[str, typing.Any] | None]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "scan",
     '(self, table_name: str, filters: dict[str, typing.Any], limit: int, '
     'exclusive_start_key: dict[str, typing.Any], filter_expression: str | None, '
     'expr_names: dict[str, typing.Any], expr_values: dict[str, typing.Any], index_name: '
     'str, consistent_read: bool, projection_expression: list[list[str]] | None, segments: '
     'tuple[None, None] | tuple[int, int]) -> '
     'tuple[list[moto.dynamodb.models.dynamo_type.Item], int, dict[str, typing.Any] | None]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "describe_table",
     '(self, name: str) -> dict[str, typing.Any]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "transact_write_items",
     '(self, transact_items: list[dict[str, typing.Any]]) -> None'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "transact_get_items", '(self) -> None'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "execute_statement",
     '(self, statement: str, parameters: list[dict[str, typing.Any]]) -> list[dict[str, '
     'typing.Any]]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "execute_transaction",
     '(self, statements: list[dict[str, typing.Any]]) -> list[dict[str, typing.Any]]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "batch_execute_statement",
     '(self, statements: list[dict[str, typing.Any]]) -> list[dict[str, typing.Any]]'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "create_backup",
     '(self, table_name: str, backup_name: str) -> moto.dynamodb.models.table.Backup'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "restore_table_from_backup",
     '(self, target_table_name: str, backup_arn: str) -> '
     'moto.dynamodb.models.table.RestoredTable'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "restore_table_to_point_in_time",
     '(self, target_table_name: str, source_table_name: str) -> '
     'moto.dynamodb.models.table.RestoredPITTable'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "export_table",
     '(self, s3_bucket: str, s3_prefix: str, table_arn: str, export_format: str, '
     'export_type: str, s3_bucket_owner: str) -> '
     'moto.dynamodb.models.table_export.TableExport'),
    (FAST, "moto.dynamodb.models:DynamoDBBackend", "delete_table",
     '(self, name: str) -> moto.dynamodb.models.table.Table'),
    (FAST, "moto.kinesis.models:Shard", "__init__",
     '(self, shard_id: int, starting_hash: int, ending_hash: int, parent: str | None = '
     'None, adjacent_parent: str | None = None)'),
    (FAST, "moto.kinesis.models:Shard", "append", None),
    (FAST, "moto.kinesis.models:Shard", "put_record",
     '(self, partition_key: str, data: str, explicit_hash_key: str) -> str'),
    (FAST, "moto.kinesis.models:Shard", "get_records",
     '(self, last_sequence_id: str, limit: int | None) -> '
     'tuple[list[moto.kinesis.models.Record], int, int]'),
    (FAST, "moto.kinesis.models:Shard", "get_min_sequence_number", '(self) -> int'),
    (FAST, "moto.kinesis.models:Shard", "get_max_sequence_number", '(self) -> int'),
    (FAST, "moto.kinesis.models:Shard", "get_sequence_number_at",
     '(self, at_timestamp: float) -> int'),
    (FAST, "moto.kinesis.models:Shard", "bounds", None),
    (FAST, "moto.sqs.models:Queue", "_messages", None),
    (FAST, "moto.sqs.models:Queue", "approximate_number_of_messages", 'property(self) -> int'),
    (FAST, "moto.sqs.models:Queue", "approximate_number_of_messages_not_visible",
     'property(self) -> int'),
    (FAST, "moto.sqs.models:Queue", "approximate_number_of_messages_delayed",
     'property(self) -> int'),
    (FAST, "moto.sqs.models:Queue", "add_message",
     '(self, message: moto.sqs.models.Message) -> None'),
    (FAST, "moto.sqs.models:Queue", "wait_for_messages", '(self, timeout: int) -> None'),
    (FAST, "moto.sqs.models:Queue", "delete_message", '(self, receipt_handle: str) -> None'),
    (FAST, "moto.sqs.models:SQSBackend", "receive_message",
     '(self, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: '
     'int, message_attribute_names: list[str] | None = None) -> '
     'list[moto.sqs.models.Message]'),
    (FAST, "moto.sqs.models:SQSBackend", "change_message_visibility",
     '(self, queue_name: str, receipt_handle: str, visibility_timeout: int) -> None'),
    (FAST, "moto.sqs.models:SQSBackend", "is_message_valid_based_on_retention_period",
     '(self, queue_name: str, message: moto.sqs.models.Message) -> bool'),
    (FAST, "moto.sqs.models:SQSBackend", "send_message",
     '(self, queue_name: str, message_body: str, message_attributes: dict[str, typing.Any] '
     '| None = None, delay_seconds: int | None = None, deduplication_id: str | None = None, '
     'group_id: str | None = None, system_attributes: dict[str, typing.Any] | None = None, '
     'validate_group_id: bool = True) -> moto.sqs.models.Message'),
    (FAST, "moto.sqs.models:SQSBackend", "send_message_batch",
     '(self, queue_name: str, entries: dict[str, dict[str, typing.Any]]) -> '
     'tuple[list[moto.sqs.models.Message], list[dict[str, typing.Any]]]'),
    (FAST, "moto.sqs.models:SQSBackend", "delete_message",
     '(self, queue_name: str, receipt_handle: str) -> None'),
    (FAST, "moto.sqs.models:SQSBackend", "delete_message_batch",
     '(self, queue_name: str, receipts: list[dict[str, typing.Any]]) -> tuple[list[str], '
     'list[dict[str, str]]]'),
    (FAST, "moto.sqs.models:SQSBackend", "change_message_visibility_batch",
     '(self, queue_name: str, entries: list[dict[str, typing.Any]]) -> tuple[list[str], '
     'list[dict[str, str]]]'),
    (FAST, "moto.sqs.models:SQSBackend", "get_queue_attributes",
     '(self, queue_name: str, attribute_names: list[str]) -> dict[str, typing.Any]'),
    (FAST, "moto.sqs.models:SQSBackend", "set_queue_attributes",
     '(self, queue_name: str, attributes: dict[str, typing.Any]) -> moto.sqs.models.Queue'),
    (FAST, "moto.sqs.models:SQSBackend", "purge_queue", '(self, queue_name: str) -> None'),
    (FAST, "moto.sqs.models:SQSBackend", "create_queue",
     '(self, name: str, tags: dict[str, str] | None = None, **kwargs: Any) -> '
     'moto.sqs.models.Queue'),
    (FAST, "moto.sqs.models:SQSBackend", "delete_queue", '(self, queue_name: str) -> None'),
    (FAST, "moto.sqs.models:Message", "__new__",
     "(cls, *args: Any, **kwargs: Any) -> 'BaseModel'"),
]


class Collector:
    """What the installers hand over: (owner, attribute, replacement), checked against
    CHANGES for the mode being installed."""

    def __init__(self, mode: str):
        self.mode = mode
        self.declared = {(owner, attribute) for kind, owner, attribute, _ in CHANGES
                         if kind == mode}
        self.planned: list[tuple[type, str, object]] = []

    def __call__(self, owner: type, attribute: str, replacement) -> None:
        key = (f"{owner.__module__}:{owner.__qualname__}", attribute)
        if key not in self.declared:
            raise AssertionError(f"undeclared change of moto: {key[0]}.{attribute}")
        self.planned.append((owner, attribute, replacement))


def describe(owner: type, attribute: str) -> str | None:
    """What the registry compares: the attribute's signature (a property's getter's),
    None if the owner has no such attribute of its own lineage."""
    found = inspect.getattr_static(owner, attribute, None)
    if found is None:
        return None
    if isinstance(found, staticmethod):
        found = found.__func__
    if isinstance(found, property):
        return "property" + _signature(found.fget)
    return _signature(found)


def _signature(function) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return f"builtin {getattr(function, '__qualname__', type(function).__name__)}"


def _own(owner: type, attribute: str) -> bool:
    """Whether the original is still moto's own (or a builtin moto inherits), not a
    replacement someone (this process, another tool) already made."""
    found = inspect.getattr_static(owner, attribute, None)
    if isinstance(found, staticmethod):
        found = found.__func__
    if isinstance(found, property):
        found = found.fget
    if found is None:
        return True
    module = getattr(found, "__module__", None) or ""
    return module.startswith("moto.") or module == "builtins" or \
        type(found).__name__ in ("builtin_function_or_method", "wrapper_descriptor")


def _resolve(path: str) -> type:
    module, _, name = path.partition(":")
    owner: Any = importlib.import_module(module)  # then the class, an attribute of it
    for part in name.split("."):
        owner = getattr(owner, part)
    return owner


def mismatches(changes=None) -> list[str]:
    """The declared changes whose original is not what it was written against."""
    problems = []
    for _kind, path, attribute, signature in (CHANGES if changes is None else changes):
        try:
            owner = _resolve(path)
        except (ImportError, AttributeError):
            problems.append(f"{path} is gone")
            continue
        found = describe(owner, attribute)
        if found != signature:
            problems.append(f"{path}.{attribute} is {found or 'missing'}, not {signature}")
        elif not _own(owner, attribute):
            problems.append(f"{path}.{attribute} is no longer moto's own")
    return problems


def moto_version_problem() -> str | None:
    from importlib.metadata import version

    found = version("moto")
    major_minor = tuple(int(part) for part in found.split(".")[:2])
    low, high = SUPPORTED_MOTO
    if not (low <= major_minor < high):
        return f"moto {found} is outside the range the emulator was verified against (5.2.x)"
    return None


def apply(fast: bool, install_fixes, install_fast) -> tuple[bool, str | None]:
    """Check every declared original, then install: the fixes whose originals match, and the
    fast changes if all of them do. Returns (fast mode on, warning or None)."""
    problems = []
    version_problem = moto_version_problem()
    if version_problem:
        problems.append(version_problem)
    bad = mismatches()
    problems += bad
    bad_fixes = {line.split(" ", 1)[0] for line in bad}
    fixes = Collector(FIX)
    install_fixes(fixes)
    for owner, attribute, replacement in fixes.planned:
        if f"{owner.__module__}:{owner.__qualname__}.{attribute}" not in bad_fixes:
            setattr(owner, attribute, replacement)
    on = fast and not problems
    if on:
        speed = Collector(FAST)
        install_fast(speed)
        for owner, attribute, replacement in speed.planned:
            setattr(owner, attribute, replacement)
    warning = None
    if problems:
        warning = (f"moto differs from what the emulator was verified against, serving stock "
                   f"moto: {problems[0]}" + (f" (and {len(problems) - 1} more)"
                                              if len(problems) > 1 else ""))
    return on, warning
