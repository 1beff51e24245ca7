"""What the commands draw: rich tables and panels. Every value that comes from data goes in as
a Text (never parsed as markup) with control characters made visible, since descriptions can
hold "[" and anything else a file can."""
from __future__ import annotations

import json
import re
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\n]")

console = Console()
errors = Console(stderr=True)


def safe(value) -> Text:
    """Data as inert text: no markup, control characters shown as escapes."""
    text = "" if value is None else str(value)
    return Text(_CONTROL.sub(lambda m: repr(m.group())[1:-1], text))


def print_json(data) -> None:
    # Plain print: rich would re-wrap long lines and highlight, which breaks piping to jq.
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


_ACTION_STYLE = {"created": "green", "updated": "yellow", "unchanged": "dim", "deleted": "red",
                 "running": "dim", "started": "green", "would create": "yellow",
                 "exists": "dim"}


@contextmanager
def step_progress(title: str):
    """A spinner naming the step in hand, and one line per finished step."""
    with console.status(title) as status:
        def report(name: str, what: str) -> None:
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


def status_view(report: dict) -> None:
    head = Table.grid(padding=(0, 2))
    for key in ("target", "endpoint", "region", "prefix", "home"):
        head.add_row(Text(key, "bold"), safe(report.get(key)))
    console.print(head)
    resources = Table(title="resources", title_justify="left")
    resources.add_column("name", style="bold")
    resources.add_column("exists")
    resources.add_column("id / arn", overflow="fold")
    for name, info in report["resources"].items():
        resources.add_row(name, Text("yes", "green") if info.get("exists") else Text("no", "red"),
                          safe(info.get("arn") or info.get("id")))
    console.print(resources)
    if report.get("processes"):
        procs = Table(title="local processes", title_justify="left")
        procs.add_column("process", style="bold")
        procs.add_column("pid")
        procs.add_column("alive")
        for name, info in report["processes"].items():
            procs.add_row(name, safe(info.get("pid")),
                          Text("yes", "green") if info.get("alive") else Text("no", "red"))
        console.print(procs)
    facts = Table.grid(padding=(0, 2))
    facts.add_row(Text("table items", "bold"), safe(report["table"].get("items")))
    facts.add_row(Text("stream shards", "bold"), safe(report["stream"].get("shards")))
    facts.add_row(Text("stream lag", "bold"), safe(report["stream"].get("lag")))
    facts.add_row(Text("rejects", "bold"), safe(report.get("rejects")))
    console.print(facts)


def generated_view(summary: dict) -> None:
    console.print(Text.assemble(
        ("wrote ", ""), (str(summary["lines"]), "bold"), (" lines ", ""),
        (f"(dataset rows {summary['first_line']}–{summary['last_line']}) to ", ""),
        safe(summary["file"])))
    if summary.get("skipped"):
        console.print(Text(f"skipped {summary['skipped']} unreadable source rows", "yellow"))
    if summary.get("stored") is not None:
        latency = summary["latency_ms"]
        console.print(Text.assemble(
            ("stored ", ""), (str(summary["stored"]), "bold green"),
            (", rejected ", ""), (str(summary["rejected"]), "bold"),
            (", missing ", ""), (str(summary.get("missing", 0)), "bold red" if summary.get("missing") else "bold")))
        console.print(Text(
            "latency emitted → readable (ms): " + "  ".join(
                f"{k} {v}" for k, v in latency.items()), "cyan"))


def history_view(history) -> None:
    if not history.orders:
        console.print(Text(f"No orders for customer {history.customer}.", "yellow"))
        return
    orders = Table(title=Text(f"Past orders of customer {history.customer}"), title_justify="left")
    for column, justify in (("date", "left"), ("invoice", "left"), ("status", "left"),
                            ("items", "right"), ("units", "right"), ("total £", "right")):
        orders.add_column(column, justify=justify)
    for order in history.orders:
        orders.add_row(safe(order.date.replace("T", " ")), safe(order.invoice),
                       Text("cancelled", "red") if order.cancelled else Text("placed", "green"),
                       str(order.items), str(order.units), safe(order.total))
    console.print(orders)
    newest = history.orders[0]
    lines = Table(title=Text(f"Invoice {newest.invoice}, {newest.date.replace('T', ' ')}"),
                  title_justify="left")
    for column, justify in (("line", "right"), ("stock code", "left"), ("description", "left"),
                            ("qty", "right"), ("unit £", "right"), ("amount £", "right")):
        lines.add_column(column, justify=justify)
    for line in newest.lines:
        lines.add_row(str(line.line_no), safe(line.stock_code), safe(line.description),
                      str(line.quantity), safe(format(line.unit_price, "f")), safe(line.amount))
    console.print(lines)
    if history.next:
        console.print(Text(f"more: --cursor {history.next}", "dim"))


def rejects_view(rejects: list[dict]) -> None:
    if not rejects:
        console.print(Text("No rejects.", "green"))
        return
    table = Table(title=f"{len(rejects)} rejected records", title_justify="left")
    table.add_column("shard / sequence", overflow="fold")
    table.add_column("reason", overflow="fold")
    table.add_column("raw data", overflow="fold")
    for reject in rejects:
        where = f"{reject.get('shardId', '')} {reject.get('sequenceNumber', '')}".strip()
        reason = reject.get("reason") or reject.get("condition") or reject.get("kind", "")
        table.add_row(safe(where), safe(reason), safe(str(reject.get("data", ""))[:200]))
    console.print(table)


def dataset_view(facts: dict) -> None:
    from rich.panel import Panel

    grid = Table.grid(padding=(0, 2))
    for key, value in facts.items():
        if isinstance(value, (list, dict)):
            continue
        grid.add_row(Text(key.replace("_", " "), "bold"), safe(value))
    console.print(Panel(grid, title="dataset", title_align="left"))
    problems = facts.get("problems") or []
    for problem in problems[:10]:
        console.print(Text(f"row {problem.get('row')}: {problem.get('reason')}", "yellow"))
