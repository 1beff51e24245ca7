"""What `orderhist watch` draws (a rich Live screen) and the verdict line `status` prints."""
from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from orderhist import watch
from orderhist.render import console, safe

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
LABELS = {
    "written": "written on host",
    "shipped": "shipped by agent",
    "streamed": "read from stream",
    "invocations": "invocations",
    "stored": "stored in table",
    "rejects": "rejects",
}
LEVEL_STYLE = {"ok": "bold green", "warn": "bold yellow", "fail": "bold red"}


def sparkline(values: list[float], width: int = SPARK_WIDTH) -> str:
    values = values[-width:]
    top = max(values, default=0)
    if not top:
        return "▁" * len(values)
    return "".join(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.999))]
                   if v else "▁" for v in values)


def _number(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if isinstance(value, (int, float)) else str(value)


def verdict_text(found: watch.Verdict) -> Text:
    return Text.assemble(("verdict: ", "bold"), (found.text, LEVEL_STYLE.get(found.level, "")))


def _detail(stage: str, sample: watch.Sample) -> Text:
    facts = sample.facts
    runtime = facts.get("runtime") or {}
    if stage == "streamed":
        lag = facts.get("lag") or {}
        if "iterator_age_ms" in lag:
            return safe(f"iterator age {_number(lag['iterator_age_ms'])} ms")
        behind = runtime.get("records_behind")
        # Records behind are known only once the reader reaches the shard's end.
        return safe(f"lag {_number(runtime.get('millis_behind_latest'))} ms"
                    + (f", {_number(behind)} records behind" if behind is not None else ""))
    if stage == "invocations":
        errors = runtime.get("errors", facts.get("errors"))
        extra = f", {facts['throttles']} throttles" if "throttles" in facts else ""
        return Text(f"errors {_number(errors)}{extra}", "red" if errors else "")
    if stage == "rejects" and facts.get("refused") is not None:
        return safe(f"{_number(facts['refused'])} refused, "
                    f"{_number(facts.get('given_up'))} given-up batches")
    if stage == "shipped" and facts.get("agent"):
        return safe(f"{_number(facts['agent'].get('buffered'))} buffered")
    return Text("")


def screen(watcher, title: str, live: bool = True) -> Group:
    history = watcher.history
    last = history[-1]
    aws_series = last.facts.get("series")
    per = f"per min, last {len(next(iter(aws_series.values()), []))} min" if aws_series \
        else "per s"
    # The sparklines take what a narrow terminal leaves after the other columns.
    width = max(8, min(SPARK_WIDTH, console.width - 78))
    table = Table(box=None, padding=(0, 2), show_edge=False)
    table.add_column("stage", style="bold", no_wrap=True, min_width=16)
    table.add_column("count" if not aws_series else
                     f"last {last.facts.get('window_min')} min", justify="right", no_wrap=True,
                     min_width=10)
    table.add_column("rate/s", justify="right", no_wrap=True, min_width=6)
    table.add_column(per, no_wrap=True, min_width=width)
    table.add_column("", overflow="ellipsis", no_wrap=True, ratio=1)
    for stage in watch.STAGES:
        if aws_series:
            spark = aws_series.get(stage, [])
            speed = last.facts.get("rates", {}).get(stage)
        else:
            spark = watch.deltas(history, stage)
            speed = watch.rate(history, stage)
        table.add_row(LABELS[stage], _number(last.counts.get(stage)),
                      _number(speed) if speed is not None else "–",
                      Text(sparkline(spark, width), "cyan"), _detail(stage, last))
    latency = last.facts.get("latency_ms") or {}
    what = latency.get("what") or f"{latency.get('lines', 0):,} recent lines"
    stamp = datetime.fromtimestamp(last.at, UTC).strftime("%H:%M:%S UTC")
    return Group(
        Text.assemble((title, "bold"), "   ", (stamp, "dim")),
        Text(""),
        table,
        Text(""),
        Text.assemble(("latency ", "bold"), f"p50 {_number(latency.get('p50'))} ms   "
                      f"p99 {_number(latency.get('p99'))} ms   ", (f"({what})", "dim")),
        verdict_text(watch.verdict(history)),
        *([Text("Ctrl-C to stop", "dim")] if live else []),
    )


def live(watcher, title: str, interval: float = 1.0) -> None:
    """Redraw about once a second until Ctrl-C."""
    watcher.sample()
    with Live(screen(watcher, title), console=console, screen=False,
              auto_refresh=False, transient=False) as view:
        try:
            while True:
                started = time.monotonic()
                watcher.sample()
                view.update(screen(watcher, title), refresh=True)
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass


@contextmanager
def delivery_progress(total: int, enabled: bool):
    """`generate --wait` on a terminal: a bar of stored + rejected lines with pending, rate
    and ETA; yields the callback `delivery.wait_until_readable` takes (None when off)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [TextColumn("[bold]following"), BarColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[counts]}"), TextColumn("{task.fields[speed]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    started = time.monotonic()
    with Progress(*columns, console=console, transient=True, refresh_per_second=4) as bar:
        task = bar.add_task("lines", total=total, counts="", speed="")

        def update(found, pending: int) -> None:
            done = found.stored + found.rejected
            elapsed = max(time.monotonic() - started, 1e-6)
            bar.update(task, completed=done, speed=f"{done / elapsed:,.0f} lines/s",
                       counts=f"stored {found.stored:,} · rejected {found.rejected:,} · "
                              f"pending {pending:,}")

        yield update
