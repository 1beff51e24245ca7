"""What every command module shares: the run's Context, `--json` and its printer, and the
click parameter types.

Each parameter type runs a library check while the command line is parsed, so a bad value
is exit 2 with one line before the command loads a state, starts anything or creates a
folder. The checks themselves live in the library (validate, history), where the library's
own callers meet them too.

Command modules import this module and the library, never `orderhist.cli` itself: the
package's `__init__` imports them to register their commands, so the flow stays one-way.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click

from orderhist import validate
from orderhist.errors import UsageProblem
from orderhist.state import Home


class Context:
    # This run's, for `main`'s error messages: click's context is gone by the time they print.
    current: Context | None = None

    def __init__(self, home: Home, verbose: bool):
        self.home = home
        self.verbose = verbose


pass_context = click.make_pass_decorator(Context)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON instead of a table.")(function)


def print_json(data) -> None:
    """--json output. Plain print: rich would re-wrap long lines and highlight, which breaks
    piping to jq; and a --json run need not import rich at all."""
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@contextlib.contextmanager
def option_conflicts():
    """A library's OptionConflict (options that do not fit this stack) reported as click's
    own usage errors are: one line naming the command's --help."""
    try:
        yield
    except validate.OptionConflict as conflict:
        raise click.UsageError(str(conflict)) from None


class Checked(click.ParamType):
    """A value parsed as `base`, then checked (and possibly normalised) by `check`."""

    def __init__(self, name: str, check: Callable, base: click.ParamType = click.STRING):
        self.name, self.check, self.base = name, check, base

    def convert(self, value, param, ctx):
        value = self.base.convert(value, param, ctx)
        try:
            return self.check(value)
        except UsageProblem as problem:
            # The library's message names the option and the fix; click's "Invalid value
            # for ..." would say the option twice.
            raise click.UsageError(str(problem), ctx) from None


def finite(option: str, minimum: float, maximum: float | None = None) -> Checked:
    return Checked("number", partial(validate.number, option=option, minimum=minimum,
                                     maximum=maximum), click.FLOAT)


def _kept(check: Callable[[str], object]) -> Callable[[str], str]:
    """Check a value but keep the text as given (the library parses it again where used)."""
    def run(value: str) -> str:
        check(value)
        return value
    return run


def _customer(value: str) -> str:
    from orderhist.history import parse_customer

    return parse_customer(value)


def _day(value: str) -> None:
    from orderhist.history import parse_day

    parse_day(value)


def _cursor(value: str) -> None:
    from orderhist.history import decode_cursor

    decode_cursor(value)


def _invoice(value: str) -> str:
    from orderhist.records import is_invoice_number

    text = value.strip()
    # What the pipeline never stores cannot be asked for: a typo is bad input (exit 2), not
    # "No such invoice."; and an empty key would be a ValidationException from the query.
    if not is_invoice_number(text):
        raise UsageProblem(f"--invoice {value!r} is not an invoice number (e.g. 536365 or "
                           "C536379)")
    return text


class OutputFile(click.Path):
    """A file to create: click's checks, then its folder must exist and be writable."""

    def __init__(self):
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value, param, ctx):
        path = super().convert(value, param, ctx)
        try:
            return validate.output_file(path, param.opts[0] if param else "path")
        except UsageProblem as problem:
            raise click.UsageError(str(problem), ctx) from None


FAULT_RATE = Checked("rate", validate.fault_rate, click.FLOAT)
PREFIX = Checked("prefix", validate.prefix)
INSTANCE_TYPE = Checked("instance type", validate.instance_type)
ENDPOINT_URL = Checked("url", validate.endpoint_url)
CUSTOMER = Checked("customer", _customer)
INVOICE = Checked("invoice", _invoice)
DAY = Checked("date", _kept(_day))
CURSOR = Checked("cursor", _kept(_cursor))
