"""The command line: the `orderhist` group and `main`, which turns errors into one line and
an exit code. The commands live in one module per group (stack, orders, ops, services,
dataset) and only parse, make one library call and render; what they share is in options.

Imports run one way: this module loads the command modules and registers them; they import
`options` and the library, never this module. A command's module is imported only when that
command runs (or help lists them all), and heavy modules (boto3, pandas, moto, rich) only
inside the commands that need them, so `orderhist orders` starts fast.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from orderhist import __version__
from orderhist.cli.options import Context
from orderhist.errors import ExitCode, OrderhistError
from orderhist.state import Home, default_home

# Each command: the module of orderhist.cli that defines it, and its name there.
COMMANDS = {
    "up": ("stack", "up"), "status": ("stack", "status"), "down": ("stack", "down"),
    "generate": ("orders", "generate"), "orders": ("orders", "orders"),
    "rejects": ("orders", "rejects"), "host-generate": ("orders", "host_generate"),
    "watch": ("ops", "watch"), "logs": ("ops", "logs"), "env": ("ops", "env"),
    "emulator": ("services", "emulator"), "agent": ("services", "agent"),
    "runtime": ("services", "runtime"), "dataset": ("dataset", "dataset"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use: `orderhist orders` never loads the
    modules (and their imports) of watch, logs, the emulator or the dataset tools."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute = COMMANDS[cmd_name]
            found = getattr(importlib.import_module(f"orderhist.cli.{module}"), attribute)
            self.add_command(found, cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as error:
            # click suggests from the commands loaded so far, here none: offer them all.
            raise click.exceptions.NoSuchCommand(
                error.command_name, possibilities=self.list_commands(ctx), ctx=ctx) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    from orderhist.aws_errors import no_credentials, unreachable

    if unreachable_local(error):  # stopped, stalled or gone: `up` repairs all three
        return STALLED_LOCAL
    if no_credentials(error):  # only the AWS target uses the user's credentials
        return ("no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY), or run `aws configure`")
    if unreachable(error):
        return ("cannot reach the stack's endpoint; if the target is local, run `orderhist up` "
                "to restart the emulator")
    return f"{_describe(error)} (run with --verbose for details)"


def _describe(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
