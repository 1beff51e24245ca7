"""What the commands draw: rich tables and panels. Every value that comes from data goes in as
a Text (never parsed as markup) with control characters made visible, since descriptions can
hold "[" and anything else a file can."""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console, JustifyMethod
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from orderhist.dataset.info import DatasetInfo
    from orderhist.generating import Generation
    from orderhist.status_report import StatusReport

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\n]")

console = Console()
errors = Console(stderr=True)


def safe(value) -> Text:
    """Data as inert text: no markup, control characters shown as escapes."""
    text = "" if value is None else str(value)
    return Text(_CONTROL.sub(lambda m: repr(m.group())[1:-1], text))


def warn(text: str) -> None:
    """A warning on stderr: the command goes on."""
    errors.print(Text.assemble(("warning: ", "bold yellow"), safe(text)), soft_wrap=True)


_ACTION_STYLE = {"created": "green", "updated": "yellow", "unchanged": "dim", "deleted": "red",
                 "running": "dim", "started": "green", "would create": "yellow",
                 "exists": "dim"}


@contextmanager
def step_progress(title: str):
    """A spinner naming the step in hand, and one line per finished step."""
    with console.status(title) as status:
        def report(name: str, what: str) -> None:
            if what.startswith("waiting"):  # "waiting 12 s: why": the resource first
                status.update(f"{title}: {name}: {what}")
                return
            if what in ("checking", "starting", "stopping", "deleting"):
                status.update(f"{title}: {what} {name}")
                return
            style = _ACTION_STYLE.get(what, "")
            console.print(Text.assemble(("  ✓ ", "green"), (f"{name:<16}", "bold"),
                                        (what, style)))
        yield report


def steps_table(steps, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("resource", style="bold")
    table.add_column("action")
    table.add_column("id / arn", overflow="fold")
    for step in steps:
        table.add_row(step.resource, Text(step.action, _ACTION_STYLE.get(step.action, "")),
                      safe(step.id))
    return table


def status_view(report: StatusReport) -> None:
    head = Table.grid(padding=(0, 2))
    for key in ("target", "endpoint", "region", "prefix", "home"):
        head.add_row(Text(key, "bold"), safe(getattr(report, key)))
    console.print(head)
    if report.problem:
        console.print(Text.assemble(("problem: ", "bold yellow"), safe(report.problem)))
    if report.warning:
        console.print(Text.assemble(("warning: ", "bold yellow"), safe(report.warning)))
    if report.iam:
        console.print(Text.assemble(("IAM: ", "bold"), safe(report.iam)))
    for denied in report.denied or []:
        console.print(Text.assemble(
            ("denied: ", "bold red"), safe(denied["component"]), " may not ",
            safe(denied["action"]), " on ", safe(denied.get("resource") or "?"),
            f" (last at {denied.get('at')}; fix its role's policy)"))
    resources = Table(title="resources", title_justify="left")
    resources.add_column("name", style="bold")
    resources.add_column("exists")
    resources.add_column("id / arn", overflow="fold")
    for name, info in report.resources.items():
        resources.add_row(name, Text("yes", "green") if info.exists else Text("no", "red"),
                          safe(info.arn or info.id))
    console.print(resources)
    if report.processes:
        procs = Table(title="local processes", title_justify="left")
        procs.add_column("process", style="bold")
        procs.add_column("pid")
        procs.add_column("alive")
        for name, process in report.processes.items():
            procs.add_row(name, safe(process.pid),
                          Text("yes", "green") if process.alive else Text("no", "red"))
        console.print(procs)
    facts = Table.grid(padding=(0, 2))
    facts.add_row(Text("table items", "bold"), safe(report.table.items))
    facts.add_row(Text("stream shards", "bold"), safe(report.stream.shards))
    facts.add_row(Text("stream lag", "bold"),
                  safe(report.stream.lag.to_json() if report.stream.lag else None))
    facts.add_row(Text("rejects", "bold"), safe(report.rejects))
    console.print(facts)


def generated_view(summary: Generation) -> None:
    console.print(Text.assemble(
        ("wrote ", ""), (str(summary.lines), "bold"), (" lines ", ""),
        (f"(dataset rows {summary.first_line}–{summary.last_line}) to ", ""),
        safe(summary.file)))
    if summary.skipped:
        console.print(Text(f"skipped {summary.skipped} unreadable source rows", "yellow"))
    if summary.stored is not None:
        console.print(Text.assemble(
            ("stored ", ""), (str(summary.stored), "bold green"),
            (", rejected ", ""), (str(summary.rejected), "bold"),
            (", missing ", ""),
            (str(summary.missing or 0), "bold red" if summary.missing else "bold")))
        console.print(Text(
            "latency emitted → readable (ms): " + "  ".join(
                f"{k} {v}" for k, v in (summary.latency_ms or {}).items()), "cyan"))


def money(value) -> str:
    """Exact Decimal rounded only here, for display: 1234.5 -> "1,234.50"."""
    from decimal import ROUND_HALF_EVEN, Decimal

    return f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"


def pounds(value) -> str:
    """Money with its sign before the pound: -£1,429.54."""
    text = money(value)
    return f"-£{text[1:]}" if text.startswith("-") else f"£{text}"


def unit_price(value) -> str:
    """A unit price as given, but with at least pennies: 2.1 -> "2.10", 0.001 stays."""
    from decimal import Decimal

    exponent = value.as_tuple().exponent
    return format(value.quantize(Decimal("0.01")) if exponent > -2 else value, "f")


def _when(iso: str | None) -> str:
    return iso.replace("T", " ")[:16] if iso else "–"


def summary_panel(history):
    from rich.columns import Columns
    from rich.panel import Panel

    summary = history.summary
    facts = Table.grid(padding=(0, 2))
    facts.add_row(Text("orders placed", "bold"), Text(str(summary.placed)))
    facts.add_row(Text("cancelled", "bold"),
                  Text(str(summary.cancelled), "red" if summary.cancelled else ""))
    facts.add_row(Text("total spent", "bold"), Text(pounds(summary.total), "bold"))
    facts.add_row(Text("first order", "bold"), Text(_when(summary.first)))
    facts.add_row(Text("last order", "bold"), Text(_when(summary.last)))
    return Panel(Columns([facts, spend_chart(summary.by_month)], padding=(0, 4)),
                 title=Text(f"Customer {history.customer}"), title_align="left")


def spend_chart(by_month: dict, width: int = 30) -> Table:
    """Spend per month as horizontal bars; a month where refunds outweigh orders is red."""
    chart = Table.grid(padding=(0, 1))
    chart.add_column(style="dim")
    chart.add_column()
    chart.add_column(justify="right")
    largest = max((abs(v) for v in by_month.values()), default=0)
    for month, value in by_month.items():
        cells = int(round(width * abs(value) / largest)) if largest else 0
        bar = Text("█" * max(cells, 1 if value else 0), "red" if value < 0 else "cyan")
        chart.add_row(month, bar, Text(pounds(value)))
    return chart


def orders_table(orders, title) -> Table:
    table = Table(title=title, title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("date", "left"), ("invoice", "left"), ("status", "left"), ("items", "right"),
        ("units", "right"), ("total £", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for order in orders:
        table.add_row(Text(_when(order.date)), safe(order.invoice),
                      Text("cancelled", "red") if order.cancelled else Text("placed", "green"),
                      str(order.items), str(order.units),
                      Text(money(order.total), "red" if order.total < 0 else ""))
    return table


def lines_table(order) -> Table:
    table = Table(title=Text.assemble("Invoice ", safe(order.invoice), f", {_when(order.date)}",
                                      (" (cancelled)", "red") if order.cancelled else ""),
                  title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("line", "right"), ("stock code", "left"), ("description", "left"), ("qty", "right"),
        ("unit £", "right"), ("amount £", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for line in order.lines:
        table.add_row(str(line.line_no), safe(line.stock_code), safe(line.description),
                      str(line.quantity), Text(unit_price(line.unit_price)),
                      Text(money(line.amount), "red" if line.amount < 0 else ""))
    table.caption = Text(f"total {pounds(order.total)}")
    table.caption_justify = "right"
    return table


def history_view(history, selected=None, invoice_missing: bool = False) -> None:
    if history.summary is not None and history.orders:
        console.print(summary_panel(history))
    if not history.orders and not selected:
        console.print(Text(f"No orders for customer {history.customer}.", "yellow")
                      if history.customer else Text("No such invoice.", "yellow"))
        return
    if history.summary is not None:
        console.print(orders_table(history.orders, Text("Past orders, newest first")))
    if invoice_missing:
        console.print(Text("That invoice is not among this customer's orders.", "yellow"))
    shown = selected or (history.orders[0] if history.orders else None)
    if shown is not None:
        console.print(lines_table(shown))
    if history.next:
        console.print(Text(f"more: --after {history.next}", "dim"))


def new_orders_view(orders) -> None:
    for order in orders:
        console.print(Text.assemble(("new ", "bold green"), f"{_when(order.date)}  invoice ",
                                    safe(order.invoice), f"  {order.items} lines  ",
                                    (pounds(order.total), "bold")))
        console.print(lines_table(order))


def replay_view(done) -> None:
    console.print(Text.assemble(("replayed ", "bold"), f"{done.batches} given-up batches, "
                                f"{done.records} records put back into the stream"))
    for shard, span, why in done.not_replayed:
        console.print(Text.assemble(("not replayed ", "yellow"), safe(f"{shard} {span}: "),
                                    safe(why)))


def dataset_view(facts: DatasetInfo) -> None:
    from rich.panel import Panel

    grid = Table.grid(padding=(0, 2))
    for key, value in facts.items():
        if isinstance(value, (list, dict)):
            continue
        grid.add_row(Text(key.replace("_", " "), "bold"), safe(value))
    console.print(Panel(grid, title="dataset", title_align="left"))
    problems = facts.get("problems") or []
    for problem in problems[:10]:
        console.print(Text.assemble((f"row {problem.get('line')}: ", "yellow"),
                                    safe(problem.get("reason"))))


def reject_groups_view(groups, shown: int, total: int) -> None:
    """Rejects grouped by reason: count, first and last seen, one example shown literally."""
    if not groups:
        console.print(Text("No rejects.", "green"))
        return
    title = f"{total:,} rejects, {len(groups)} reason{'s' if len(groups) > 1 else ''}" + \
        (f" (the {shown} largest shown: --all for every one)" if shown < len(groups) else "")
    table = Table(title=title, title_justify="left", show_lines=True)
    table.add_column("count", justify="right")
    table.add_column("reason, and one example as it came", overflow="fold", ratio=1)
    table.add_column("first seen\nlast seen", no_wrap=True)
    for group in groups[:shown]:
        seen = [(when or "–").replace("T", " ")[:19] for when in (group.first_seen,
                                                                   group.last_seen)]
        cell = Text.assemble(safe(group.reason), "\n",
                             (safe(group.example[:300]).plain, "dim"))
        table.add_row(f"{group.count:,}", cell, Text("\n").join(safe(when) for when in seen))
    console.print(table)
