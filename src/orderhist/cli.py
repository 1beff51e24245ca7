"""The command line: parse, call the library, render. Nothing else lives here.

Imports of heavy modules (boto3, pandas, moto, rich) happen inside the commands that need
them, so `orderhist orders` starts fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from orderhist import __version__
from orderhist.errors import OrderhistError, UsageProblem
from orderhist.state import Home, default_home


class Context:
    # This run's, for `main`'s error messages: click's context is gone by the time they print.
    current: "Context | None" = None

    def __init__(self, home: Home, verbose: bool):
        self.home = home
        self.verbose = verbose


pass_context = click.make_pass_decorator(Context)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(function)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), envvar="ORDERHIST_HOME",
              help="State directory (default ~/.orderhist, or $ORDERHIST_HOME).")
@click.option("-v", "--verbose", is_flag=True, help="Show tracebacks and more detail.")
@click.version_option(__version__, prog_name="orderhist")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, verbose: bool) -> None:
    """orderhist: a real-time order-history pipeline on AWS or on an embedded local AWS.

    \b
      orderhist up
      orderhist generate --count 50 --wait
      orderhist orders --customer 17850
      orderhist down
    """
    ctx.obj = Context.current = Context(Home((home or default_home()).expanduser().absolute()),
                                        verbose)


def print_json(data) -> None:
    """--json output. Plain print: rich would re-wrap long lines and highlight, which breaks
    piping to jq; and a --json run need not import rich at all."""
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


from orderhist import cli_commands, cli_ops, cli_services  # noqa: E402,F401  (register the commands)


def main() -> None:
    verbose = "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False, prog_name="orderhist")
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.UsageError as error:
        # One line, naming where help is, instead of click's three-line usage block.
        where = error.ctx.command_path if error.ctx else "orderhist"
        click.echo(f"Error: {error.format_message()} (see `{where} --help`)", err=True)
        sys.exit(2)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except UsageProblem as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except OrderhistError as error:
        if verbose:
            raise
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:  # an AWS error or a bug: one line, traceback on request
        if verbose:
            raise
        from orderhist.validate import path_problem

        # A home or an output file that cannot be written or does not exist is the user's
        # to fix (exit 2), wherever in the command it was met.
        problem = path_problem(error, Context.current.home.root if Context.current else None)
        if problem:
            click.echo(f"Error: {problem}", err=True)
            sys.exit(2)
        from orderhist.aws import STALLED_LOCAL, unreachable_local

        if unreachable_local(error):  # stopped, stalled or gone: `up` repairs all three
            click.echo(f"Error: {STALLED_LOCAL}", err=True)
        elif type(error).__name__ in ("EndpointConnectionError", "ConnectionClosedError"):
            click.echo("Error: cannot reach the stack's endpoint; if the target is local, "
                       "run `orderhist up` to restart the emulator", err=True)
        else:
            click.echo(f"Error: {_describe(error)} (run with --verbose for details)", err=True)
        sys.exit(1)


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
