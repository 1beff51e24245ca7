"""A mapping's FilterCriteria, applied as Lambda applies it to Kinesis records: a record goes
to the function when any filter's pattern matches it, and is dropped otherwise.

Kinesis mappings filter on the `data` key only, and only when the data is JSON: a pattern on
`data` never matches a record whose data is not a JSON object. A pattern is EventBridge's
content filtering: keys are ANDed, the values in a key's list ORed; a leaf rule is a literal
(string, number, true/false, null), or one of prefix, suffix, equals-ignore-case,
anything-but, numeric, exists. A field holding a list matches when any element does.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from orderhist.errors import UsageProblem

_MISSING = object()
_NUMERIC_OPS = {"=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
                ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


class FilterError(UsageProblem):
    """A pattern Lambda itself would refuse (CreateEventSourceMapping's InvalidParameterValue)."""


@dataclass(frozen=True)
class RecordFilter:
    patterns: tuple  # parsed patterns; empty: every record passes

    def passes(self, data: bytes) -> bool:
        if not self.patterns:
            return True
        try:
            body = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            body = _MISSING
        event = {"data": body} if isinstance(body, dict) else {}
        return any(_matches(pattern, event) for pattern in self.patterns)


def parse_filter_criteria(criteria: dict | None) -> RecordFilter:
    filters = (criteria or {}).get("Filters") or []
    patterns = []
    for entry in filters:
        try:
            pattern = json.loads(entry.get("Pattern") or "{}")
        except ValueError as error:
            raise FilterError(f"filter pattern is not JSON: {error}") from None
        if not isinstance(pattern, dict):
            raise FilterError("a filter pattern must be a JSON object")
        unknown = set(pattern) - {"data"}
        if unknown:
            raise FilterError("Kinesis mappings filter on the data key only, "
                              f"not {sorted(unknown)}")
        _check(pattern)
        patterns.append(pattern)
    return RecordFilter(tuple(patterns))


_OPERATORS = {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}


def _check(pattern: dict) -> None:
    for key, rule in pattern.items():
        if isinstance(rule, dict):
            _check(rule)
        elif not isinstance(rule, list) or not rule:
            raise FilterError(f"the rule for {key!r} must be a non-empty list or an object")
        else:
            for leaf in rule:
                if isinstance(leaf, dict) and (len(leaf) != 1 or not set(leaf) <= _OPERATORS):
                    raise FilterError(f"unknown filter rule {json.dumps(leaf)[:80]} for {key!r}")


def _matches(pattern: dict, event) -> bool:
    if not isinstance(event, dict):
        return False
    for key, rule in pattern.items():
        value = event.get(key, _MISSING)
        if isinstance(rule, dict):
            if not _matches(rule, value):
                return False
        elif not any(_leaf(r, value) for r in rule):
            return False
    return True


def _leaf(rule, value) -> bool:
    if isinstance(rule, dict) and len(rule) == 1 and "exists" in rule:
        return (value is not _MISSING) == bool(rule["exists"])
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_leaf(rule, element) for element in value)
    if not isinstance(rule, dict):
        return rule == value and type(rule) is type(value) or _same_number(rule, value)
    (operator, operand), = rule.items()
    if operator == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if operator == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if operator == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == str(operand).lower()
    if operator == "anything-but":
        if isinstance(operand, dict):
            return not _leaf(operand, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_leaf(item, value) for item in excluded)
    if operator == "numeric":
        return _numeric(operand, value)
    raise FilterError(f"unknown filter operator {operator!r}")


def _same_number(rule, value) -> bool:
    numbers = (int, float)
    return (isinstance(rule, numbers) and isinstance(value, numbers)
            and not isinstance(rule, bool) and not isinstance(value, bool) and rule == value)


def _numeric(operand: list, value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    for index in range(0, len(operand) - 1, 2):
        compare = _NUMERIC_OPS.get(operand[index])
        if compare is None or not compare(value, operand[index + 1]):
            return False
    return True
