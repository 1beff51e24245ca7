"""The everyday commands: up, status, generate, orders, rejects, down."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from orderhist import cli_options as checked
from orderhist.cli import Context, cli, json_option, pass_context, print_json

TABLE_PAGE = 20  # orders per page in the table view
REJECT_GROUPS = 20  # reasons shown by `rejects`


@cli.command()
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


@cli.command()
@json_option
@pass_context
def status(ctx: Context, as_json: bool) -> None:
    """Target, resources and whether each exists, local processes, table and stream."""
    from orderhist import lifecycle, render

    from orderhist.watch import status_verdict

    report = lifecycle.status(ctx.home)
    found = status_verdict(report)
    report.verdict = found
    if as_json:
        print_json(report.to_json())
    else:
        from orderhist.render_watch import verdict_text

        render.status_view(report)
        render.console.print(verdict_text(found))


@cli.command()
@click.option("--count", type=click.IntRange(1, 10_000_000), required=True,
              help="How many order lines to write.")
@click.option("--source", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Dataset file (default: the bundled data/OnlineRetail.csv).")
@click.option("--now", is_flag=True, help="Stamp orders with the current time (live orders).")
@click.option("--rate", type=checked.finite("--rate", 0.1),
              help="Lines per second (default: all at once).")
@click.option("--wait", is_flag=True, help="Return once every line is readable or rejected.")
@click.option("--timeout", type=checked.finite("--timeout", 0.1), default=60.0,
              show_default=True,
              help="Seconds --wait waits.")
@json_option
@pass_context
def generate(ctx: Context, count, source, now, rate, wait, timeout, as_json) -> None:
    """Write COUNT order lines to the host's log directory, continuing where the last run
    stopped; with --wait, follow them into the table and report latency."""
    from orderhist import loggen, render
    from orderhist.errors import OrderhistError
    from orderhist.state import require_state

    state = require_state(ctx.home)
    if state.kind == "local":
        _require_local_pipeline(ctx, state)
        with _writing(count, not as_json and sys.stdout.isatty()):
            result = loggen.generate(ctx.home, count, source=source, now=now, rate=rate)
        lines, where, skipped = result.lines, str(result.file), len(result.skipped)
    else:
        from orderhist import remote

        if source:
            raise click.UsageError("--source applies to the local target; the host "
                                   "generates from the dataset `up` gave it")
        with _writing(count, not as_json and sys.stdout.isatty(), "on the host through SSM"):
            lines = remote.generate_on_host(state, count, now, rate)
        where, skipped = f"{state.resources['instance']['id']}:/var/log/orders", 0
    summary = {
        "lines": len(lines),
        "first_line": lines[0].line_no if lines else None,
        "last_line": lines[-1].line_no if lines else None,
        "file": where,
        "skipped": skipped,
        "stored": None, "rejected": None, "missing": None,
        "latency_ms": None,
    }
    if wait:
        from orderhist import delivery
        from orderhist.render_watch import delivery_progress

        # A bar only for a person at a terminal: --json and pipes get the summary alone.
        with delivery_progress(len(lines), not as_json and sys.stdout.isatty()) as progress:
            outcome = delivery.wait_until_readable(
                state.target(), state.resources["table"]["id"], lines, timeout,
                progress=progress)
        summary.update(stored=outcome.stored, rejected=outcome.rejected,
                       missing=outcome.missing, latency_ms=outcome.percentiles())
    if as_json:
        print_json(summary)
    else:
        render.generated_view(summary)
    if wait and summary["missing"]:
        raise OrderhistError(
            f"{summary['missing']} lines were not readable after {timeout:g} s; "
            "see `orderhist status` and the logs under the home directory")


def _writing(count: int, on_terminal: bool, where: str = "to the host's log"):
    """A spinner while the host's lines are written (a whole dataset takes a while)."""
    import contextlib

    if not on_terminal:
        return contextlib.nullcontext()
    from orderhist import render

    return render.console.status(f"writing {count:,} lines {where}…")


def _require_local_pipeline(ctx: Context, state) -> None:
    from orderhist import emulator, processes
    from orderhist.errors import OrderhistError

    if not emulator.is_healthy(state.endpoint):
        raise OrderhistError("the local emulator is not running: run `orderhist up` to restart it")
    for name in ("agent", "runtime"):
        if not processes.status(ctx.home, name)["alive"]:
            raise OrderhistError(f"the {name} is not running: run `orderhist up` to restart it")


@cli.command()
@click.option("--customer", type=checked.CUSTOMER, help="CustomerID, e.g. 17850.")
@click.option("--invoice", type=checked.INVOICE,
              help="This invoice's lines (with --customer: only if it is theirs).")
@click.option("--limit", type=click.IntRange(min=1),
              help=f"At most this many orders per page [default: {TABLE_PAGE} in the table "
                   "view, all with --json or --csv].")
@click.option("--after", type=checked.CURSOR,
              help="The next page: the cursor the previous page printed.")
@click.option("--since", type=checked.DAY, help="Orders on or after this date (YYYY-MM-DD).")
@click.option("--until", type=checked.DAY, help="Orders on or before this date (YYYY-MM-DD).")
@click.option("--follow", is_flag=True, help="Stay open and show each new order as it lands.")
@json_option
@click.option("--csv", "as_csv", is_flag=True,
              help="Print CSV, one row per order line, safe to open in a spreadsheet: a text "
                   "cell starting with = + - @, a tab or a line break gets a leading ' (so "
                   "it is not run as a formula) and control characters are shown as \\x1b "
                   "escapes; numbers stay numbers. --json gives the exact text.")
@pass_context
def orders(ctx: Context, customer, invoice, limit, after, since, until, follow, as_json,
           as_csv) -> None:
    """A customer's past orders, newest first: a summary, one row per invoice, then the lines
    of the newest (or of --invoice). --invoice alone shows one invoice, guests' included."""
    from orderhist import history
    from orderhist.state import require_state

    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    if not customer and not invoice:
        raise click.UsageError("name a --customer, an --invoice, or both")
    if follow and (not customer or as_json or as_csv):
        raise click.UsageError("--follow needs --customer and the table view")
    if not customer and (limit or after or since or until):
        raise click.UsageError("--limit, --after, --since and --until apply to a --customer's "
                               "orders")
    history.date_bounds(since, until)  # a range that ends before it starts: exit 2 now
    state = require_state(ctx.home)
    table = state.resource_id("table") or f"{state.prefix}-orders"
    # No health probe first: a stopped emulator shows up as a refused connection, which
    # `main` reports as "run orderhist up", and `orders` stays one request fast.
    table_view = not (as_json or as_csv)
    if limit is None and table_view:
        limit = TABLE_PAGE  # a page a terminal can show; the summary still covers them all
    if customer:
        result = history.customer_history(state.target(), table, customer, limit=limit,
                                          since=since, until=until, after=after,
                                          line_details=not table_view)
        # The table view draws one invoice's lines in full: --invoice, or the newest.
        shown = invoice or (result.orders[0].invoice if table_view and result.orders else None)
        selected = history.invoice_history(state.target(), table, shown, customer) \
            if shown else None
    else:
        result = selected = history.invoice_history(state.target(), table, invoice)
    if as_json:
        print_json((selected or result).to_json())
    elif as_csv:
        from orderhist.export import write_orders_csv

        write_orders_csv(selected or result, sys.stdout)
    else:
        from orderhist import render

        render.history_view(result, selected.orders[0] if selected and selected.orders else None,
                            invoice_missing=bool(invoice) and not (selected and selected.orders))
        if follow:
            _follow(state, table, result.customer)


def _follow(state, table: str, customer: str) -> None:
    from orderhist import history, render

    render.console.print(render.Text("following new orders (Ctrl-C to stop)…", "dim"))
    try:
        for orders_landed in history.follow(state.target(), table, customer):
            render.new_orders_view(orders_landed)
    except KeyboardInterrupt:
        render.console.print(render.Text("stopped following.", "dim"))


@cli.command()
@click.option("--replay", is_flag=True,
              help="Put the records of every batch the mapping gave up on back into the "
                   "stream (read back from it while it still holds them), then remove those "
                   "batches from the queue.")
@click.option("--limit", type=click.IntRange(min=1), default=REJECT_GROUPS, show_default=True,
              help="Reasons shown, largest first.")
@click.option("--all", "show_all", is_flag=True, help="Every reason.")
@click.option("--clear", is_flag=True,
              help="Delete the rejects of the reasons shown, after confirmation.")
@click.option("--yes", is_flag=True, help="With --clear: do not ask.")
@json_option
@pass_context
def rejects(ctx: Context, replay: bool, limit: int, show_all: bool, clear: bool, yes: bool,
            as_json: bool) -> None:
    """Records the Lambda refused and the batches the mapping gave up on, grouped by reason:
    count, first and last seen, one example shown literally. --json lists every one, oldest
    first, with its reason and raw line. Nothing is consumed unless --clear; a listing that
    could not read all of the queue says how much it missed and exits 1."""
    from orderhist import render
    from orderhist.state import require_state

    state = require_state(ctx.home)
    from orderhist.errors import OrderhistError

    queue = state.resource_id("queue")
    if clear and (as_json or replay):
        raise click.UsageError("--clear works on the grouped view: drop --json and --replay")
    if replay:
        _replay(state, queue, as_json)
        return
    from orderhist.rejects import list_rejects

    table = state.resource_id("table")
    if as_json:
        found = list_rejects(state.target(), table, queue)
        print_json(found.all)
    else:
        found = _grouped(state.target(), table, queue, None if show_all else limit, clear, yes)
    if found.table_missing:
        raise OrderhistError("the table does not exist, so its refused records could not be "
                             "listed (only the queue's given-up batches are): run `orderhist up`")
    if not found.complete:
        # A partial list must not pass for the whole one, for a script least of all.
        raise OrderhistError(
            f"{found.unread} messages on the rejects queue could not be read (another "
            "reader holds them, or they arrived during the listing): run `orderhist rejects` "
            "again")


def _grouped(target, table: str | None, queue: str | None, limit: int | None, clear: bool,
             yes: bool):
    from orderhist import render
    from orderhist.rejects import Rejects
    from orderhist.rejects_groups import Listing, group

    with Listing(target, table, queue) as listing:
        groups = group(listing.entries)
        shown = len(groups) if limit is None else min(limit, len(groups))
        render.reject_groups_view(groups, shown, len(listing.entries))
        listed = [entry for g in groups[:shown] for entry in g.entries]
        if clear and listed:
            if not yes:
                click.confirm(f"Delete these {len(listed):,} rejects?", abort=True)
            render.console.print(f"deleted {listing.delete(listed):,} rejects")
        return Rejects(unread=listing.unread, table_missing=listing.table_missing)


def _replay(state, queue: str | None, as_json: bool) -> None:
    from orderhist import render
    from orderhist.errors import OrderhistError
    from orderhist.replay import replay_given_up

    if not queue:
        raise OrderhistError("the stack has no rejects queue: run `orderhist up`")
    done = replay_given_up(state.target(), queue)
    if as_json:
        print_json({"batches": done.batches, "records": done.records, "unread": done.unread,
                    "not_replayed": [{"shardId": shard, "sequenceNumbers": span, "reason": why}
                                     for shard, span, why in done.not_replayed]})
    else:
        render.replay_view(done)
    if done.not_replayed or done.unread:
        raise OrderhistError(
            f"{len(done.not_replayed)} given-up batches could not be replayed and "
            f"{done.unread} queue messages could not be read; they stay on the queue")


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask before deleting AWS resources.")
@click.option("--keep-host-data", is_flag=True,
              help="Local: keep the host's order logs and position (the next `up` ships "
                   "them again); by default they go, as the EC2 host's disk does on AWS.")
@pass_context
def down(ctx: Context, yes: bool, keep_host_data: bool) -> None:
    """Delete every resource `up` made, stop every local process and remove the host's
    files. Safe to run twice, and with a damaged state file."""
    from orderhist import render, teardown
    from orderhist.state import DamagedFile, StackState

    try:
        state = StackState.load(ctx.home)
    except DamagedFile as damage:
        state = None
        click.echo(f"Warning: {damage.path} is damaged: stopping this home's local processes "
                   f"and keeping the file as {damage.path.name}.damaged (a stack on AWS is "
                   "not deleted: find it by its tag orderhist:stack)", err=True)
    if state is not None and state.kind == "aws" and not yes:
        click.confirm(f"Delete every resource of stack {state.prefix!r} in "
                      f"{state.region}?", abort=True)
    with render.step_progress("orderhist down") as progress:
        deleted = teardown.down(ctx.home, progress, keep_host_data=keep_host_data)
    render.console.print(f"[bold]down[/]: {len(deleted)} resources deleted, local processes stopped")
