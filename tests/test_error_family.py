"""One error family, and AWS errors told apart in one place.

Every exception class orderhist defines derives from `OrderhistError`, so the CLI reports each
in one line with the exit code it carries. And only `orderhist/aws_errors.py` decides what an
AWS error means: no other module reads a botocore error's reply, compares an error code, or
matches an error's text or class name (see `violations` for exactly what is looked for).
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import orderhist
from orderhist import aws_errors
from orderhist.errors import ExitCode, OrderhistError, UsageProblem

PACKAGE = Path(orderhist.__file__).resolve().parent
ADAPTER = PACKAGE / "aws_errors.py"
# Imported for their side effect only: `python -m orderhist` runs the CLI.
NOT_IMPORTABLE = {"orderhist.__main__"}
# The server side writes AWS's error codes into its replies; it never reads one.
WRITES_CODES = PACKAGE / "emulator"
# The CLI's catch-all, until it calls `aws_errors.unreachable(error)` instead (issue 17: the
# CLI is being moved into a package; the lead wires it). Exactly this text, nothing like it.

# Every code the adapter knows: naming one anywhere else is deciding by code.
KNOWN_CODES = frozenset().union(*aws_errors.CODES.values(),
                                {rule.code for rule in aws_errors.RULES})
# Calls that read an error's text, class or code for a decision.
TEXT_OF = {"str", "repr", "format"}
ADAPTER_READERS = {"code", "message"}
STRING_TESTS = {"startswith", "endswith", "find", "index", "count", "rfind", "rindex"}
RE_CALLS = {"search", "match", "fullmatch", "findall", "finditer"}
REPLY_ATTRIBUTES = {"response", "last_response"}


def all_modules() -> list:
    modules = []
    for info in pkgutil.walk_packages(orderhist.__path__, "orderhist."):
        if info.name not in NOT_IMPORTABLE:
            modules.append(importlib.import_module(info.name))  # an import error fails here
    return modules


def subclasses(cls) -> set:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | subclasses(sub)
    return found


def test_every_error_orderhist_defines_is_of_the_family():
    modules = all_modules()
    assert len(modules) > 100  # the walk reached the whole package, emulator and runtime too
    ours = {cls for cls in subclasses(Exception) if cls.__module__.startswith("orderhist.")}
    outsiders = sorted(f"{cls.__module__}.{cls.__qualname__}" for cls in ours
                       if not issubclass(cls, OrderhistError))
    assert outsiders == []
    names = {cls.__name__ for cls in ours}
    assert {"RecordError", "CodeError", "FilterError", "FunctionUnavailable", "BatchGone",
            "EmulatorError", "NumberError", "Refused", "NotRecorded"} <= names


def test_bad_input_is_a_usage_problem_and_still_a_value_error():
    from orderhist.emulator.rules import Refused
    from orderhist.emulator.sizes import NumberError
    from orderhist.records import RecordError
    from orderhist.runtime.filters import FilterError

    for cls in (RecordError, NumberError, FilterError, Refused):
        assert issubclass(cls, UsageProblem) and issubclass(cls, ValueError), cls
        assert cls("x").exit_code == ExitCode.USAGE
    from orderhist.emulator import EmulatorError
    from orderhist.resources import NotRecorded

    assert EmulatorError("x").exit_code == NotRecorded("x").exit_code == ExitCode.FAILURE


def test_the_lambda_zip_carries_the_family():
    from orderhist.function import build

    shipped = {name for name, _ in build.MODULES}
    assert {"orderhist/errors.py", "orderhist/aws_errors.py"} <= shipped
    # Both ship beside the handler, where only the standard library and boto3 exist.
    for path in (PACKAGE / "errors.py", ADAPTER):
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert imported <= {"__future__", "enum", "re", "dataclasses", "typing", "botocore"}, path


# ---------------------------------------------------------------------------------------------
# Only the adapter decides.

def _handler_names(tree: ast.AST) -> dict[ast.AST, set[str]]:
    """For each node, the names bound by the `except ... as NAME` clauses around it."""
    scope: dict[ast.AST, set[str]] = {}

    def visit(node, names):
        if isinstance(node, ast.ExceptHandler) and node.name:
            names = names | {node.name}
        scope[node] = names
        for child in ast.iter_child_nodes(node):
            visit(child, names)

    visit(tree, frozenset())
    return scope


def _reads_error(node: ast.AST, names: set[str]) -> bool:
    """`node` is an error's text, class name or code: str(e), repr(e), e.args, type(e).__name__,
    e.__class__.__name__, aws_errors.message(e) / code(e), for `e` a caught error."""
    def caught(arg):
        return isinstance(arg, ast.Name) and arg.id in names

    if isinstance(node, ast.Call) and node.args:
        func = node.func
        if isinstance(func, ast.Name) and func.id in TEXT_OF and caught(node.args[0]):
            return True
        if isinstance(func, ast.Attribute) and func.attr in ADAPTER_READERS \
                and isinstance(func.value, ast.Name) and func.value.id == "aws_errors":
            return True  # the adapter's code and message are for people, never for tests
    if isinstance(node, ast.Attribute):
        if node.attr == "args" and caught(node.value):
            return True
        if node.attr == "__name__":
            inner = node.value
            if isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) \
                    and inner.func.id == "type" and inner.args and caught(inner.args[0]):
                return True
            if isinstance(inner, ast.Attribute) and inner.attr == "__class__" \
                    and caught(inner.value):
                return True
    return False


def violations(source: str, *, writes_codes: bool = False) -> list[str]:
    """What in `source` decides by an AWS error's code or text outside the adapter:

    1. reading a botocore error's reply: an attribute `.response` / `.last_response`, or
       `getattr(x, "response" | "last_response")`, or indexing / `.get` with the key "Error";
    2. naming an error code `aws_errors` knows (a string constant equal to one), unless the
       module writes AWS's replies (the emulator);
    3. inside `except ... as e`: a comparison, a string test (startswith, find, ...) or a `re`
       match that involves e's text, args or class name (`str(e)`, `e.args`,
       `type(e).__name__`, ...), or `aws_errors.code(...)` / `message(...)` anywhere in one.
    Docstrings and f-strings that merely show an error are not decisions.
    """
    tree = ast.parse(source)
    scope = _handler_names(tree)
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    found = []

    def say(node, why):
        found.append(f"line {node.lineno}: {why}: {ast.get_source_segment(source, node)}")

    for node in ast.walk(tree):
        names = scope[node]
        if isinstance(node, ast.Attribute) and node.attr in REPLY_ATTRIBUTES:
            say(node, "reads an error's reply")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id == "getattr" and len(node.args) >= 2 \
                and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in REPLY_ATTRIBUTES:
            say(node, "reads an error's reply")
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and node.slice.value == "Error":
            say(node, "reads an error's reply")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "get" and node.args \
                and isinstance(node.args[0], ast.Constant) and node.args[0].value == "Error":
            say(node, "reads an error's reply")
        elif isinstance(node, ast.Constant) and node.value in KNOWN_CODES \
                and not writes_codes and id(node) not in docstrings:
            say(node, "names an AWS error code")
        elif isinstance(node, ast.Compare) \
                and any(_reads_error(part, names) for part in ast.walk(node)):
            say(node, "compares an error's text, class or code")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and (node.func.attr in STRING_TESTS
                     or node.func.attr in RE_CALLS and isinstance(node.func.value, ast.Name)
                     and node.func.value.id == "re") \
                and any(_reads_error(part, names) for part in ast.walk(node)):
            say(node, "matches an error's text")
    return found


BAD = {
    "code compared": 'try:\n    f()\nexcept Exception as e:\n'
                     '    if e.response["Error"]["Code"] == "X":\n        pass\n',
    "code by get": 'try:\n    f()\nexcept Exception as e:\n'
                   '    code = e.response.get("Error", {}).get("Code")\n',
    "known code named": 'NOT_FOUND = {"ResourceNotFoundException"}\n',
    "adapter code compared": 'def f(e):\n    return aws_errors.code(e) == "Whatever"\n',
    "text matched": 'try:\n    f()\nexcept Exception as e:\n    if "not found" in str(e):\n'
                    '        pass\n',
    "text searched": 'import re\ntry:\n    f()\nexcept Exception as e:\n'
                     '    if re.search("gone", str(e)):\n        pass\n',
    "text tested": 'try:\n    f()\nexcept Exception as e:\n'
                   '    if str(e).startswith("An error"):\n        pass\n',
    "args matched": 'try:\n    f()\nexcept Exception as e:\n    ok = e.args[0] == "x"\n',
    "class name": 'try:\n    f()\nexcept Exception as error:\n'
                  '    if type(error).__name__ == "EndpointConnectionError":\n        pass\n',
    "getattr reply": 'def f(e):\n    return getattr(e, "response", {})\n',
}
GOOD = {
    "adapter asked": 'try:\n    f()\nexcept Exception as e:\n'
                     '    if not aws_errors.is_missing(e):\n        raise\n',
    "kind compared": 'try:\n    f()\nexcept Exception as e:\n'
                     '    if aws_errors.kind(e) == aws_errors.EXPIRED:\n        pass\n',
    "error shown": 'try:\n    f()\nexcept Exception as e:\n'
                   '    log(f"{type(e).__name__}: {e} ({aws_errors.code(e)})")\n',
    "docstring": 'def f():\n    """Retries on ThrottlingException."""\n',
    "other text": 'def f(name):\n    return "x" in str(name)\n',
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_check_finds_each_kind_of_decision(case):
    assert violations(BAD[case]), case


@pytest.mark.parametrize("case", sorted(GOOD))
def test_the_check_lets_the_adapter_be_asked(case):
    assert violations(GOOD[case]) == [], case


def test_the_emulator_may_write_codes_but_not_read_them():
    assert violations('REPLY = {"__type": "ResourceNotFoundException"}\n',
                      writes_codes=True) == []
    assert violations('def f(e):\n    return e.response\n', writes_codes=True)


def test_only_aws_errors_decides_what_an_aws_error_means():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == ADAPTER:
            continue
        problems = violations(path.read_text(), writes_codes=WRITES_CODES in path.parents)
        if problems:
            found[str(path.relative_to(PACKAGE))] = problems
    assert found == {}


def test_the_adapter_tells_an_unreachable_endpoint_by_its_class():
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    assert aws_errors.unreachable(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert aws_errors.unreachable(ConnectionClosedError(endpoint_url="http://127.0.0.1:1"))
    assert not aws_errors.unreachable(ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
    assert not aws_errors.unreachable(ClientError({"Error": {"Code": "X"}}, "Op"))
    assert not aws_errors.unreachable(OSError("refused"))


def test_only_an_aws_reply_is_missing_by_its_words():
    from botocore.exceptions import ClientError

    assert aws_errors.is_missing(ClientError({"Error": {"Message": "Stream x not found"}}, "Op"))
    # The tool's own error about a download says nothing about a resource.
    assert not aws_errors.is_missing(OrderhistError("HTTP Error 404: Not Found"))
    assert aws_errors.describe(OrderhistError("a\nb")) == "OrderhistError: a"
    assert aws_errors.describe(ClientError({"Error": {"Code": "X", "Message": "y"}}, "Op")) \
        == "X: y"
