"""The orders: generate (and host-generate, its EC2 side), orders, rejects."""
from __future__ import annotations

import sys
from pathlib import Path

import click

import orderhist.cli.options as checked
from orderhist.cli.options import Context, json_option, option_conflicts, pass_context, print_json

TABLE_PAGE = 20  # orders per page in the table view
REJECT_GROUPS = 20  # reasons shown by `rejects`


@click.command()
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
    from orderhist import generating, render

    # Spinner and bar only for a person at a terminal: --json and pipes get the summary alone.
    on_terminal = not as_json and sys.stdout.isatty()
    with option_conflicts():
        result = generating.generate(
            ctx.home, count, source=source, now=now, rate=rate, wait=wait, timeout=timeout,
            writing=lambda where: _writing(count, on_terminal, where),
            following=lambda lines: _following(lines, on_terminal))
    if as_json:
        print_json(result.as_json())
    else:
        render.generated_view(result)
    result.check()


def _following(lines: int, on_terminal: bool):
    from orderhist.render_watch import delivery_progress

    return delivery_progress(lines, on_terminal)


def _writing(count: int, on_terminal: bool, where: str):
    """A spinner while the host's lines are written (a whole dataset takes a while)."""
    import contextlib

    if not on_terminal:
        return contextlib.nullcontext()
    from orderhist import render

    return render.console.status(f"writing {count:,} lines {where}…")


@click.command()
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
    from orderhist.past_orders import look_up

    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    if not customer and not invoice:
        raise click.UsageError("name a --customer, an --invoice, or both")
    if follow and (not customer or as_json or as_csv):
        raise click.UsageError("--follow needs --customer and the table view")
    if not customer and (limit or after or since or until):
        raise click.UsageError("--limit, --after, --since and --until apply to a --customer's "
                               "orders")
    table_view = not (as_json or as_csv)
    if limit is None and table_view:
        limit = TABLE_PAGE  # a page a terminal can show; the summary still covers them all
    found = look_up(ctx.home, customer, invoice, limit=limit, since=since, until=until,
                    after=after, table_view=table_view)
    if as_json:
        print_json(found.shown.to_json())
    elif as_csv:
        from orderhist.export import write_orders_csv

        write_orders_csv(found.shown, sys.stdout)
    else:
        from orderhist import render

        render.history_view(found.history, found.drawn, invoice_missing=found.invoice_missing)
        if follow:
            _follow(found)


def _follow(found) -> None:
    from orderhist import history, render

    render.console.print(render.Text("following new orders (Ctrl-C to stop)…", "dim"))
    try:
        for orders_landed in history.follow(found.target, found.table, found.history.customer):
            render.new_orders_view(orders_landed)
    except KeyboardInterrupt:
        render.console.print(render.Text("stopped following.", "dim"))


@click.command()
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
    from orderhist import rejects as rejected

    if clear and (as_json or replay):
        raise click.UsageError("--clear works on the grouped view: drop --json and --replay")
    where = rejected.locate(ctx.home)
    if replay:
        _replay(where, as_json)
        return
    if as_json:
        found = rejected.list_rejects(where.target, where.table, where.queue)
        print_json(found.all)
    else:
        found = _grouped(where, None if show_all else limit, clear, yes)
    found.check()


def _grouped(where, limit: int | None, clear: bool, yes: bool):
    from orderhist import render
    from orderhist.rejects import Rejects
    from orderhist.rejects_groups import Listing, group

    with Listing(where.target, where.table, where.queue) as listing:
        groups = group(listing.entries)
        shown = len(groups) if limit is None else min(limit, len(groups))
        render.reject_groups_view(groups, shown, len(listing.entries))
        listed = [entry for g in groups[:shown] for entry in g.entries]
        if clear and listed:
            if not yes:
                click.confirm(f"Delete these {len(listed):,} rejects?", abort=True)
            render.console.print(f"deleted {listing.delete(listed):,} rejects")
        return Rejects(unread=listing.unread, table_missing=listing.table_missing)


def _replay(where, as_json: bool) -> None:
    from orderhist.replay import replay_given_up

    done = replay_given_up(where.target, where.queue)
    if as_json:
        print_json(done.as_json())
    else:
        from orderhist import render

        render.replay_view(done)
    done.check()


@click.command("host-generate", hidden=True)
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
    from orderhist import loggen

    result = loggen.generate(ctx.home, count, source=source, now=now, rate=rate,
                             log_dir=log_dir, report=report)
    click.echo(f"wrote {len(result.lines)} lines to {result.file}")
