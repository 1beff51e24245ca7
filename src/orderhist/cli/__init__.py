"""The command line: the `orderhist` group and `main`, which turns errors into one line and
an exit code. The commands live in one module per group (stack, orders, ops, services,
dataset) and only parse, make one library call and render; what they share is in options.

Imports run one way: this module imports the command modules and registers them; they
import `options` and the library, never this module. Heavy modules (boto3, pandas, moto,
rich) are imported inside the commands that need them, so `orderhist orders` starts fast.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from orderhist import __version__
from orderhist.cli import dataset, ops, orders, services, stack
from orderhist.cli.options import Context
from orderhist.errors import ExitCode, OrderhistError
from orderhist.state import Home, default_home


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


for command in (stack.up, stack.status, orders.generate, orders.orders, orders.rejects,
                stack.down, ops.watch, ops.logs, ops.env, services.emulator, services.agent,
                services.runtime, dataset.dataset, orders.host_generate):
    cli.add_command(command)


def main() -> None:
    verbose = "-v" in sys.argv[1:] or "--verbose" in sys.argv[1:]
    try:
        cli.main(standalone_mode=False, prog_name="orderhist")
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(ExitCode.FAILURE)
    except click.UsageError as error:
        # One line, naming where help is, instead of click's three-line usage block.
        where = error.ctx.command_path if error.ctx else "orderhist"
        click.echo(f"Error: {error.format_message()} (see `{where} --help`)", err=True)
        sys.exit(ExitCode.USAGE)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except OrderhistError as error:
        # Bad input is the user's to fix: its message is the whole story, even with --verbose.
        if verbose and error.exit_code != ExitCode.USAGE:
            raise
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as error:  # an AWS error or a bug: one line, traceback on request
        if verbose:
            raise
        problem = _path_problem(error)
        click.echo(f"Error: {problem or _unexpected(error)}", err=True)
        sys.exit(ExitCode.USAGE if problem else ExitCode.FAILURE)


def _path_problem(error: Exception) -> str | None:
    from orderhist.validate import path_problem

    # A home or an output file that cannot be written or does not exist is the user's to
    # fix (exit 2), wherever in the command it was met.
    return path_problem(error, Context.current.home.root if Context.current else None)


def _unexpected(error: Exception) -> str:
    """The one line for an error orderhist did not raise itself."""
    from orderhist.aws import STALLED_LOCAL, unreachable_local
    from orderhist.aws_errors import unreachable

    if unreachable_local(error):  # stopped, stalled or gone: `up` repairs all three
        return STALLED_LOCAL
    if unreachable(error):
        return ("cannot reach the stack's endpoint; if the target is local, run `orderhist up` "
                "to restart the emulator")
    return f"{_describe(error)} (run with --verbose for details)"


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
