"""The stack's life: up, status, down."""
from __future__ import annotations

import click

import orderhist.cli.options as checked
from orderhist.cli.options import Context, json_option, pass_context, print_json


@click.command()
@click.option("--target", type=click.Choice(["local", "aws"]),
              help="local: the embedded emulator (default); aws: real AWS.")
@click.option("--prefix", type=checked.PREFIX,
              help="Name prefix of every resource (default orderhist; 1-20 lowercase "
                   "letters, digits or hyphens).")
@click.option("--region", help="AWS region (default us-east-1); on the local target one the "
                               "emulator can build the stack in.")
@click.option("--shards", type=click.IntRange(1, 500), help="Provisioned shards (default 1).")
@click.option("--on-demand", is_flag=True, default=None,
              help="An on-demand stream instead of shards.")
@click.option("--agent", type=click.Choice(["orderhist", "kinesis-agent"]),
              help="What ships the host's logs on AWS (default orderhist).")
@click.option("--instance-type", type=checked.INSTANCE_TYPE,
              help="The host's instance type, arm64 (default t4g.small).")
@click.option("--pitr", is_flag=True, default=None,
              help="Point-in-time recovery for the table.")
@click.option("--endpoint-url", type=checked.ENDPOINT_URL,
              help="An AWS-compatible endpoint for --target aws.")
@click.option("--faults", type=checked.FAULT_RATE,
              help="Local only: fail this fraction of PutRecords entries, BatchWriteItem "
                   "items and GetRecords calls (and a few 500s), to exercise the retries.")
@click.option("--fault-seed", type=int, help="Seed of --faults, so a run can be replayed.")
@click.option("--iam/--no-iam", default=None,
              help="Local only: the emulator authorises every call as IAM does, each "
                   "component acting as its role (default); --no-iam turns that off.")
@click.option("--dry-run", is_flag=True, help="Print the plan and touch nothing.")
@pass_context
def up(ctx: Context, target, prefix, region, shards, on_demand, agent, instance_type, pitr,
       endpoint_url, faults, fault_seed, iam, dry_run) -> None:
    """Provision the pipeline, idempotently: a second run repairs what is missing or dead
    and changes nothing that is right."""
    from orderhist import lifecycle, render

    if shards and on_demand:
        raise click.UsageError("--shards and --on-demand exclude each other")
    if endpoint_url and target != "aws":
        raise click.UsageError("--endpoint-url applies to --target aws")
    if (faults is not None or fault_seed is not None) and target == "aws":
        raise click.UsageError("--faults applies to the local emulator")
    if iam is not None and target == "aws":
        raise click.UsageError("--iam/--no-iam applies to the local emulator (AWS enforces IAM)")
    options = lifecycle.UpOptions(target=target, prefix=prefix, region=region, shards=shards,
                                  on_demand=on_demand, agent=agent,
                                  instance_type=instance_type, pitr=pitr,
                                  endpoint_url=endpoint_url, faults=faults,
                                  fault_seed=fault_seed, iam=iam, dry_run=dry_run)
    if dry_run:
        result = lifecycle.up(ctx.home, options, warn=render.warn)
        render.console.print(render.steps_table(result.steps, "plan (nothing changed)"))
        return
    with render.step_progress("orderhist up") as progress:
        result = lifecycle.up(ctx.home, options, progress, warn=render.warn)
    created = sum(step.action == "created" for step in result.steps)
    updated = sum(step.action == "updated" for step in result.steps)
    render.console.print(
        f"[bold green]up[/]: {created} created, {updated} updated, "
        f"{len(result.steps) - created - updated} unchanged"
        + (f"; started {', '.join(result.started)}" if result.started else ""))


@click.command()
@json_option
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Target, resources and whether each exists, local processes, table and stream."""
    from orderhist.watch import status_report

    report, found = status_report(ctx.home)
    if as_json:
        print_json(report.to_json())
    else:
        from orderhist import render
        from orderhist.render_watch import verdict_text

        render.status_view(report)
        render.console.print(verdict_text(found))


@click.command()
@click.option("--yes", is_flag=True, help="Do not ask before deleting AWS resources.")
@click.option("--keep-host-data", is_flag=True,
              help="Local: keep the host's order logs and position (the next `up` ships "
                   "them again); by default they go, as the EC2 host's disk does on AWS.")
@pass_context
def down(ctx: Context, yes: bool, keep_host_data: bool) -> None:
    """Delete every resource `up` made, stop every local process and remove the host's
    files. Safe to run twice, and with a damaged state file."""
    from orderhist import render, teardown

    before = teardown.before_down(ctx.home)
    if before.damaged:
        click.echo(f"Warning: {before.damaged} is damaged: stopping this home's local processes "
                   f"and keeping the file as {before.damaged.name}.damaged (a stack on AWS is "
                   "not deleted: find it by its tag orderhist:stack)", err=True)
    if before.question and not yes:
        click.confirm(before.question, abort=True)
    with render.step_progress("orderhist down") as progress:
        deleted = teardown.down(ctx.home, progress, keep_host_data=keep_host_data)
    render.console.print(f"[bold]down[/]: {len(deleted)} resources deleted, "
                         "local processes stopped")
