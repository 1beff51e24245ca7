"""The long-running pieces and tools: the emulator, the agent, the runtime, datasets."""
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


@cli.group()
def agent() -> None:
    """The Kinesis-Agent-compatible shipper (started by `up` on the local target)."""


@agent.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              required=True, help="agent.json, in the Amazon Kinesis Agent's schema.")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to keep the agent's counters (default: beside the checkpoint file).")
def agent_run(config_path: Path, stats_path: Path | None) -> None:
    """Tail the configured files and ship their lines to Kinesis, in the foreground."""
    from orderhist.agent import run_agent

    raise SystemExit(run_agent(config_path, stats_path))


@cli.group()
def runtime() -> None:
    """The local event-source-mapping runtime (started by `up` on the local target)."""


@runtime.command("run")
@click.option("--endpoint-url", help="The emulator's endpoint (default: from the state file).")
@click.option("--region", help="Region (default: from the state file).")
@pass_context
def runtime_run(ctx: Context, endpoint_url: str | None, region: str | None) -> None:
    """Poll every enabled Kinesis mapping and invoke its function, in the foreground."""
    from orderhist import aws
    from orderhist.errors import OrderhistError
    from orderhist.runtime import run_runtime
    from orderhist.state import StackState

    state = StackState.load(ctx.home)
    endpoint_url = endpoint_url or (state.get("endpoint") if state else None)
    region = region or (state.get("region") if state else None) or aws.DEFAULT_REGION
    if not endpoint_url:
        raise OrderhistError("no emulator endpoint: run `orderhist up` or pass --endpoint-url")
    target = aws.Target(aws.LOCAL, region, endpoint_url)
    raise SystemExit(run_runtime(target, ctx.home.runtime_dir))
