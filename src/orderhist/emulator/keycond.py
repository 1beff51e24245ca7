"""A strict reader of the KeyConditionExpressions the fast Query answers.

Accepted: `H = :v` optionally joined by AND (either order) with one range condition on R:
`R op :v` (op one of = < <= > >=), `R BETWEEN :a AND :b` or `begins_with(R, :v)`. Names are
bare or #aliases; AND and BETWEEN in any case, as moto reads them. Anything else (OR, NOT,
parentheses around clauses, <>, a value on the left, paths) returns None and moto parses it,
errors included.
"""
from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|<=|>=|<>|[=<>(),])")
_NAME = re.compile(r"#?[A-Za-z_][A-Za-z0-9_]*\Z")
COMPARISONS = ("=", "<", "<=", ">", ">=")


class Condition:
    __slots__ = ("hash_value", "op", "values", "names_used", "values_used")

    def __init__(self) -> None:
        self.hash_value = None
        self.op = None  # None (hash only), a comparison, "BETWEEN" or "BEGINS_WITH"
        self.values: list = []
        self.names_used: set = set()
        self.values_used: set = set()


def _tokens(text: str) -> list[str] | None:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip():
                return None
            break
        out.append(match.group(1))
        pos = match.end()
    return out


def parse(text, names, values, hash_attr: str, range_attr: str | None):
    """A Condition, or None if the expression is not one this module reads."""
    if type(text) is not str or not isinstance(values, dict):
        return None
    names = names or {}
    tokens = _tokens(text)
    if not tokens:
        return None
    found = Condition()
    clauses = _split_clauses(tokens)
    if clauses is None or not 1 <= len(clauses) <= 2:
        return None
    seen = set()
    for clause in clauses:
        parsed = _clause(clause, names, values, found)
        if parsed is None:
            return None
        attribute, op, operands = parsed
        if attribute in seen:
            return None
        seen.add(attribute)
        if attribute == hash_attr:
            if op != "=":
                return None
            found.hash_value = operands[0]
        elif attribute == range_attr and range_attr is not None:
            found.op, found.values = op, operands
        else:
            return None
    if found.hash_value is None:
        return None
    return found


def _split_clauses(tokens: list[str]) -> list[list[str]] | None:
    """Split on the AND that joins clauses, not the one inside BETWEEN ... AND ...."""
    current: list[str]
    clauses, current, between_open = [], [], False
    for token in tokens:
        upper = token.upper()
        if upper == "AND" and not between_open:
            if not current:
                return None
            clauses.append(current)
            current = []
            continue
        if upper == "AND":
            between_open = False
        elif upper == "BETWEEN":
            between_open = True
        current.append(token)
    if not current:
        return None
    clauses.append(current)
    return clauses


def _operand_name(token: str, names: dict, found: Condition) -> str | None:
    if not _NAME.match(token) or token.upper() in ("AND", "BETWEEN", "BEGINS_WITH"):
        return None
    if token.startswith("#"):
        if token not in names or type(names[token]) is not str:
            return None
        found.names_used.add(token)
        return names[token]
    if token in names:
        return None  # moto would read this bare word through the names map
    return token


def _operand_value(token: str, values: dict, found: Condition):
    if not token.startswith(":") or token not in values:
        return None
    found.values_used.add(token)
    return values[token]


def _clause(tokens: list[str], names: dict, values: dict, found: Condition):
    if len(tokens) == 6 and tokens[0] == "begins_with" and tokens[1] == "(" \
            and tokens[3] == "," and tokens[5] == ")":
        attribute = _operand_name(tokens[2], names, found)
        value = _operand_value(tokens[4], values, found)
        if attribute is None or value is None:
            return None
        return attribute, "BEGINS_WITH", [value]
    if len(tokens) == 3 and tokens[1] in COMPARISONS:
        attribute = _operand_name(tokens[0], names, found)
        value = _operand_value(tokens[2], values, found)
        if attribute is None or value is None:
            return None
        return attribute, tokens[1], [value]
    if len(tokens) == 5 and tokens[1].upper() == "BETWEEN" and tokens[3].upper() == "AND":
        attribute = _operand_name(tokens[0], names, found)
        low = _operand_value(tokens[2], values, found)
        high = _operand_value(tokens[4], values, found)
        if attribute is None or low is None or high is None:
            return None
        return attribute, "BETWEEN", [low, high]
    return None
