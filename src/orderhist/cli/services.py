"""The long-running pieces in the foreground: the emulator, the agent, the runtime."""
from __future__ import annotations

from pathlib import Path

import click

import orderhist.cli.options as checked
from orderhist.cli.options import Context, pass_context


@click.group()
def emulator() -> None:
    """The embedded local AWS (`up` starts it for the local target)."""


@emulator.command("serve")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port on 127.0.0.1 (0 picks a free one, printed at start).")
@click.option("--port-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the port and pid to this file once listening.")
@click.option("--faults", type=checked.FAULT_RATE, default=0.0,
              help="Fraction of data-plane calls or entries to fail.")
@click.option("--fault-seed", type=int, help="Seed of the injected faults, to replay a run.")
@click.option("--consistency-delay", type=checked.finite("--consistency-delay", 0, 600),
              default=0.0,
              help="Seconds of AWS's eventual consistency: new roles and instance profiles "
                   "refused as not yet usable, streams and tables CREATING/DELETING, mappings "
                   "Creating, instances pending/shutting-down, and a deleted queue's name "
                   "refused for 12 times as long (AWS: 60 s). 0 (default): none.")
@click.option("--enforce-iam", is_flag=True,
              help="Authorise every request as IAM does: keys from sts:AssumeRole act as "
                   "their role, with its policies, resource by resource; any other key is "
                   "the account's root. (`up` turns it on for the local target.)")
def emulator_serve(port: int, port_file: Path | None, faults: float, fault_seed: int | None,
                   consistency_delay: float, enforce_iam: bool) -> None:
    """Serve the local AWS on 127.0.0.1 in the foreground, until Ctrl-C: for scripts, tests
    and `up --target aws --endpoint-url http://127.0.0.1:PORT`."""
    from orderhist import emulator as emulator_module

    emulator_module.serve(port_file, port, faults=faults, fault_seed=fault_seed,
                          consistency_delay=consistency_delay, enforce_iam=enforce_iam)


@click.group()
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


@click.group()
def runtime() -> None:
    """The local event-source-mapping runtime (started by `up` on the local target)."""


@runtime.command("run")
@click.option("--endpoint-url", help="The emulator's endpoint (default: from the state file).")
@click.option("--region", help="Region (default: from the state file).")
@pass_context
def runtime_run(ctx: Context, endpoint_url: str | None, region: str | None) -> None:
    """Poll every enabled Kinesis mapping and invoke its function, in the foreground."""
    from orderhist.runtime import run_local

    raise SystemExit(run_local(ctx.home, endpoint_url, region))
