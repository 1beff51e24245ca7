"""Operating the pipeline: watch, logs, env."""
from __future__ import annotations

import sys

import click

from orderhist.cli import Context, cli, pass_context, print_json
from orderhist.logview import SOURCES


@cli.command()
@click.option("--once", is_flag=True, help="Print one snapshot and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: the snapshot as JSON.")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=1.0, show_default=True,
              help="Seconds between refreshes.")
@pass_context
def watch(ctx: Context, once: bool, as_json: bool, interval: float) -> None:
    """The pipeline live, until Ctrl-C: each stage's count, rate and recent history, the
    consumer's lag, latency of recent lines, and a verdict naming the first stage that is
    stuck or failing."""
    from orderhist import watch as watching
    from orderhist.state import require_state

    if as_json and not once:
        raise click.UsageError("--json needs --once")
    state = require_state(ctx.home)
    watcher = watching.open_watch(ctx.home, state)
    title = f"orderhist watch · {state.kind} · {state.region} · " \
            f"{state.prefix}"
    if once:
        watcher.seed_latency()
        watcher.sample()
        if as_json:
            print_json(watching.snapshot_json(watcher, watcher.history))
        else:
            from orderhist.render import console
            from orderhist.render_watch import screen

            console.print(screen(watcher, title, live=False))
        return
    from orderhist.render_watch import live

    live(watcher, title, interval)


@cli.command()
@click.argument("source", required=False, type=click.Choice(SOURCES))
@click.option("-f", "--follow", is_flag=True, help="Stay open and print new lines as they come.")
@click.option("--since", help="Only lines from this long ago (10m, 2h, 1d) or this ISO 8601 "
                              "time on [default: all the local files hold; 10m on AWS].")
@pass_context
def logs(ctx: Context, source: str | None, follow: bool, since: str | None) -> None:
    """The stack's logs: agent, runtime, function (each invocation framed by Lambda's START,
    END and REPORT lines), emulator, host. Without a name all of them, interleaved by time,
    each line prefixed by its source."""
    from orderhist import logview
    from orderhist.state import require_state

    start = logview.parse_since(since)
    state = require_state(ctx.home)
    reader = logview.open_logs(ctx.home, state, source, start)
    if source == "host" and state.kind == "local":
        click.echo("the local host is this machine: the generator keeps no log, and the "
                   "host's shipper is `orderhist logs agent`", err=True)

    def show(found) -> None:
        for line in found:
            prefix = "" if source else f"{line.source:<8} "
            sys.stdout.write(f"{prefix}{line.stamp} {line.text}\n")
        sys.stdout.flush()

    try:
        show(logview.lines(reader, start))
        if follow:
            for found in logview.follow(reader):
                show(found)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `orderhist logs | head`
        sys.stderr.close()


@cli.command()
@click.option("--shell", type=click.Choice(["sh", "fish", "powershell"]), default="sh",
              show_default=True, help="The shell the lines are for (sh: bash, zsh, dash).")
@pass_context
def env(ctx: Context, shell: str) -> None:
    """Shell lines that point the AWS CLI and boto3 at this stack:
    eval "$(orderhist env)", then e.g. aws dynamodb scan --table-name orderhist-orders."""
    from orderhist import emulator, envcmd
    from orderhist.state import require_state

    state = require_state(ctx.home)
    sys.stdout.write(envcmd.render(state, shell))
    if state.kind == "local" and not emulator.is_healthy(state.endpoint):
        # The lines are right for when it runs again; the user should know it does not now.
        click.echo("warning: the local emulator is not running: run `orderhist up`", err=True)
