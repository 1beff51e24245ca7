"""The commands of `orderhist`, each a thin layer over the library."""
from __future__ import annotations

from pathlib import Path

import click

from orderhist.cli import Context, cli, pass_context


@cli.group(hidden=True)
def emulator() -> None:
    """The embedded local AWS (started by `up`)."""


@emulator.command("serve")
@click.option("--port-file", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--port", type=int, default=0, help="0 picks a free port.")
def emulator_serve(port_file: Path, port: int) -> None:
    """Serve the local AWS on 127.0.0.1 in the foreground."""
    from orderhist import emulator as emulator_module

    emulator_module.serve(port_file, port)
