"""IAM's evaluation of identity-based policies, for the emulator's enforcement (`authz`).

Pure: documents in, a verdict out. What AWS's policy evaluation logic says for one account
and identity-based policies: an explicit Deny in any statement wins; otherwise an Allow in
any statement; otherwise the implicit deny. Action, NotAction, Resource, NotResource with
`*` and `?` wildcards (actions case-insensitive, resources case-sensitive, `*` crossing `/`
and `:` as AWS's does), and the condition operators of the String, Numeric, Date, Bool,
Null, IpAddress and Arn families, with `...IfExists` and the ForAnyValue/ForAllValues
qualifiers. A condition on a key the request does not carry fails (IfExists: passes), as
AWS's does.

moto has policy classes (moto.iam.access_control.IAMPolicyStatement), read and not reused:
they turn `*` into `.*` without escaping the rest (an ARN's `.` and `?` become regex syntax),
match actions case-sensitively, know no NotResource and few condition operators; and stock
moto authorises most services against "*" only, which refuses every ARN-scoped policy. So the
matching is ours.
"""
from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

ALLOW, DENY, IMPLICIT = "allow", "explicit deny", "implicit deny"


@dataclass(frozen=True)
class Verdict:
    decision: str           # ALLOW, DENY or IMPLICIT
    resource: str = ""      # the resource that was not allowed (DENY/IMPLICIT)
    source: str = "identity-based policy"  # which kind of policy decided, for the message


def combine(verdicts: list[Verdict]) -> Verdict:
    """Identity-based policies limited by a permissions boundary and a session policy: an
    explicit deny in any decides; else each must allow."""
    for wanted in (DENY, IMPLICIT):
        for verdict in verdicts:
            if verdict.decision == wanted:
                return verdict
    return Verdict(ALLOW)


def listed(value) -> list:
    if value is None:
        return []
    return [value] if isinstance(value, (str, int, float, bool)) else list(value)


@lru_cache(maxsize=4096)
def _pattern(text: str, ignore_case: bool) -> re.Pattern:
    parts = [".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text]
    return re.compile("".join(parts) + r"\Z", re.S | (re.I if ignore_case else 0))


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    if pattern == "*":
        return True
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _pattern(pattern, ignore_case).match(value) is not None


def _expand(pattern: str, context: dict) -> str:
    """Policy variables (${aws:username}, ${*}, ...) in resources and condition values."""
    if "${" not in pattern:
        return pattern

    def one(match):
        name = match.group(1)
        special = {"*": "*", "?": "?", "$": "$"}
        if name in special:
            return special[name]
        value = _context_value(context, name)
        return str(value[0] if isinstance(value, list) and value else value or "")

    return re.sub(r"\$\{([^}]+)\}", one, pattern)


def _context_value(context: dict, key: str):
    for name, value in context.items():  # condition keys are case-insensitive
        if name.lower() == key.lower():
            return value
    return None


def documents_of(policy) -> dict:
    if isinstance(policy, dict):
        return policy
    return json.loads(policy)


def evaluate(policies: list, action: str, resources: list[str], context: dict,
             source: str = "identity-based policy") -> Verdict:
    """The verdict for `action` on every one of `resources` (all must be allowed)."""
    statements = [s for p in policies for s in listed(documents_of(p).get("Statement"))]
    for resource in resources or ["*"]:
        verdict = _one(statements, action, resource, context)
        if verdict != ALLOW:
            return Verdict(verdict, resource, source)
    return Verdict(ALLOW)


def _one(statements: list[dict], action: str, resource: str, context: dict) -> str:
    allowed = False
    for statement in statements:
        if not _applies(statement, action, resource, context):
            continue
        if statement.get("Effect") == "Deny":
            return DENY
        if statement.get("Effect") == "Allow":
            allowed = True
    return ALLOW if allowed else IMPLICIT


def _applies(statement: dict, action: str, resource: str, context: dict) -> bool:
    if "Action" in statement:
        if not any(wildcard_match(a, action, True) for a in listed(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(wildcard_match(a, action, True) for a in listed(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(wildcard_match(_expand(r, context), resource)
                   for r in listed(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(wildcard_match(_expand(r, context), resource)
               for r in listed(statement["NotResource"])):
            return False
    else:
        return False
    return conditions_hold(statement.get("Condition") or {}, context)


def principal_matches(statement: dict, principal: dict[str, str]) -> bool:
    """Whether a resource policy's (a trust policy's) statement names `principal`,
    e.g. {"Service": "lambda.amazonaws.com"} or {"AWS": "arn:aws:iam::1:root"}. An account's
    root ARN (or bare id) stands for every principal of that account."""
    named = statement.get("Principal")
    if named == "*":
        return True
    if not isinstance(named, dict):
        return False
    for kind, value in principal.items():
        for candidate in listed(named.get(kind)):
            candidate = str(candidate)
            if candidate == "*" or candidate == value:
                return True
            if kind == "AWS":
                account = value.split(":")[4] if value.count(":") >= 5 else ""
                if candidate in (account, f"arn:aws:iam::{account}:root"):
                    return True
    return False


# Conditions ---------------------------------------------------------------------------------

def conditions_hold(conditions: dict, context: dict) -> bool:
    return all(_holds(operator, key, values, context)
               for operator, block in conditions.items() for key, values in block.items())


def _holds(operator: str, key: str, expected, context: dict) -> bool:
    qualifier = ""
    if ":" in operator:
        qualifier, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[:-len("IfExists")]
    present = _context_value(context, key)
    expected = [_expand(str(v), context) if isinstance(v, str) else v for v in listed(expected)]
    if operator == "Null":
        return (present is None) == (str(expected[0]).lower() == "true")
    if present is None:
        return if_exists
    values = listed(present)
    test = _OPERATORS.get(operator)
    if test is None:
        return False  # an operator not known here never grants
    negated = operator.startswith("Not") or operator in _NEGATED
    if qualifier == "ForAllValues":
        return all(_any(test, negated, v, expected) for v in values)
    # ForAnyValue, and single-valued keys
    return any(_any(test, negated, v, expected) for v in values)


def _any(test, negated: bool, value, expected: list) -> bool:
    try:
        found = any(test(value, e) for e in expected)
    except (ValueError, TypeError):
        return False
    return not found if negated else found


def _number(value) -> float:
    return float(value)


def _date(value) -> datetime:
    if isinstance(value, (int, float)) or str(value).isdigit():
        return datetime.fromtimestamp(float(value), UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _bool(value) -> str:
    return str(value).lower()


def _ip(value, expected) -> bool:
    return ipaddress.ip_address(str(value)) in ipaddress.ip_network(str(expected), strict=False)


# Negated operators test their positive form and invert.
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
            "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"}
_OPERATORS = {
    "StringEquals": lambda v, e: str(v) == str(e),
    "StringNotEquals": lambda v, e: str(v) == str(e),
    "StringEqualsIgnoreCase": lambda v, e: str(v).lower() == str(e).lower(),
    "StringNotEqualsIgnoreCase": lambda v, e: str(v).lower() == str(e).lower(),
    "StringLike": lambda v, e: wildcard_match(str(e), str(v)),
    "StringNotLike": lambda v, e: wildcard_match(str(e), str(v)),
    "NumericEquals": lambda v, e: _number(v) == _number(e),
    "NumericNotEquals": lambda v, e: _number(v) == _number(e),
    "NumericLessThan": lambda v, e: _number(v) < _number(e),
    "NumericLessThanEquals": lambda v, e: _number(v) <= _number(e),
    "NumericGreaterThan": lambda v, e: _number(v) > _number(e),
    "NumericGreaterThanEquals": lambda v, e: _number(v) >= _number(e),
    "DateEquals": lambda v, e: _date(v) == _date(e),
    "DateNotEquals": lambda v, e: _date(v) == _date(e),
    "DateLessThan": lambda v, e: _date(v) < _date(e),
    "DateLessThanEquals": lambda v, e: _date(v) <= _date(e),
    "DateGreaterThan": lambda v, e: _date(v) > _date(e),
    "DateGreaterThanEquals": lambda v, e: _date(v) >= _date(e),
    "Bool": lambda v, e: _bool(v) == _bool(e),
    "IpAddress": _ip,
    "NotIpAddress": _ip,
    "ArnEquals": lambda v, e: wildcard_match(str(e), str(v)),
    "ArnLike": lambda v, e: wildcard_match(str(e), str(v)),
    "ArnNotEquals": lambda v, e: wildcard_match(str(e), str(v)),
    "ArnNotLike": lambda v, e: wildcard_match(str(e), str(v)),
}
