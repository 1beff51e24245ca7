"""The long-running pieces and tools: the emulator, the agent, the runtime, datasets."""
from __future__ import annotations

from pathlib import Path

import click

from orderhist import cli_options as checked
from orderhist.cli import Context, cli, pass_context, print_json


@cli.group()
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

    # `up` passes both: a runtime it started must not depend on the state file's health.
    state = StackState.load(ctx.home) if not (endpoint_url and region) else None
    endpoint_url = endpoint_url or (state.endpoint if state else None)
    region = region or (state.region if state else None) or aws.DEFAULT_REGION
    if not endpoint_url:
        raise OrderhistError("no emulator endpoint: run `orderhist up` or pass --endpoint-url")
    target = aws.Target(aws.LOCAL, region, endpoint_url)
    raise SystemExit(run_runtime(target, ctx.home.runtime_dir))


@cli.group()
def dataset() -> None:
    """Inspect, synthesise or fetch an Online Retail dataset."""


@dataset.command("info")
@click.option("--source", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Dataset file (default: the bundled data/OnlineRetail.csv).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a panel.")
def dataset_info(source: Path | None, as_json: bool) -> None:
    """Rows, invoices, customers, guests, cancellations, date range and problems found."""
    from orderhist import render
    from orderhist.dataset import info
    from orderhist.loggen import bundled_dataset

    facts = info(source or bundled_dataset())
    if as_json:
        print_json(facts)
    else:
        render.dataset_view(facts)


@dataset.command("synth")
@click.option("--rows", type=click.IntRange(min=1), default=40_000, show_default=True,
              help="Rows to write (the real file has 541,909).")
@click.option("--seed", type=int, default=2010, show_default=True,
              help="The defaults reproduce the bundled data/OnlineRetail.csv byte for byte.")
@click.option("--out", type=checked.OutputFile(), required=True)
def dataset_synth(rows: int, seed: int, out: Path) -> None:
    """Write a synthetic dataset with the real file's shape (deterministic for a seed)."""
    from orderhist import render
    from orderhist.dataset import write_synthetic

    write_synthetic(out, rows, seed)
    render.console.print(f"wrote {rows} rows to {out}")


@dataset.command("download")
@click.option("--out", type=checked.OutputFile(), required=True,
              help="Where to save the UCI file (Online Retail.xlsx).")
def dataset_download(out: Path) -> None:
    """Fetch the real UCI Online Retail file (needs the internet)."""
    from orderhist import render
    from orderhist.download import download_uci

    size = download_uci(out)
    render.console.print(f"saved {size:,} bytes to {out}")


@cli.command("host-generate", hidden=True)
@click.option("--count", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--now", is_flag=True)
@click.option("--rate", type=checked.finite("--rate", 0.1))
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path),
              default="/var/log/orders", show_default=True)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to copy the lines written, for the CLI that asked for them.")
@pass_context
def host_generate(ctx: Context, count, source, now, rate, log_dir, report) -> None:
    """The generator as the EC2 host runs it (through SSM): lines to the log directory."""
    from orderhist import loggen, records

    result = loggen.generate(ctx.home, count, source=source, now=now, rate=rate,
                             log_dir=log_dir)
    report.write_text("".join(records.to_log_line(line) + "\n" for line in result.lines),
                      encoding="utf-8")
    click.echo(f"wrote {len(result.lines)} lines to {result.file}")
