"""Datasets: inspect, synthesise or fetch the Online Retail file."""
from __future__ import annotations

from pathlib import Path

import click

import orderhist.cli.options as checked
from orderhist.cli.options import print_json


@click.group()
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

    facts = info(source)
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
