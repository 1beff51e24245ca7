"""Operating the pipeline: watch, logs, env."""
from __future__ import annotations

import sys

import click

from orderhist.cli.options import Context, pass_context, print_json
from orderhist.logview import SOURCES


@click.command()
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

    if as_json and not once:
        raise click.UsageError("--json needs --once")
    watcher, title = watching.begin(ctx.home, once)
    if once:
        if as_json:
            print_json(watching.snapshot_json(watcher, watcher.history))
        else:
            from orderhist.render import console
            from orderhist.render_watch import screen

            console.print(screen(watcher, title, live=False))
        return
    from orderhist.render_watch import live

    live(watcher, title, interval)


@click.command()
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

    opened = logview.open_for(ctx.home, source, since)
    if opened.note:
        click.echo(opened.note, err=True)

    def show(found) -> None:
        for line in found:
            prefix = "" if source else f"{line.source:<8} "
            sys.stdout.write(f"{prefix}{line.stamp} {line.text}\n")
        sys.stdout.flush()

    try:
        show(logview.lines(opened.reader, opened.start))
        if follow:
            for found in logview.follow(opened.reader):
                show(found)
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:  # `orderhist logs | head`
        sys.stderr.close()


@click.command()
@click.option("--shell", type=click.Choice(["sh", "fish", "powershell"]), default="sh",
              show_default=True, help="The shell the lines are for (sh: bash, zsh, dash).")
@pass_context
def env(ctx: Context, shell: str) -> None:
    """Shell lines that point the AWS CLI and boto3 at this stack:
    eval "$(orderhist env)", then e.g. aws dynamodb scan --table-name orderhist-orders."""
    from orderhist import envcmd

    lines, emulator_stopped = envcmd.for_home(ctx.home, shell)
    sys.stdout.write(lines)
    if emulator_stopped:
        click.echo("warning: the local emulator is not running: run `orderhist up`", err=True)
