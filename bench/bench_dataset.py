"""Dataset benchmark: loading the real file in its forms, and streaming a full-size synthetic one.

    python bench/bench_dataset.py [--keep DIR]

Every figure comes from this one run on this machine. Each load runs in a child process so its
peak memory (ru_maxrss) is its own. The real file's copies are written to a temporary directory
and removed at the end; the real parquet is only read.
"""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL = REPO.parent / "shared" / "data" / "online_retail.parquet"

CHILD = r"""
import json, resource, sys, time
from orderhist.dataset import info, load
what, path = sys.argv[1], sys.argv[2]
start = time.perf_counter()
result = load(path) if what == "load" else info(path)
seconds = time.perf_counter() - start
rows = result.rows if what == "load" else result["rows"]
print(json.dumps({"seconds": seconds, "rows": rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def child(what: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, what, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def kaggle_csv(frame, path: Path) -> None:
    """The Kaggle form: Latin-1, CRLF, `12/1/2010 8:26`, whole-number ids, empty for none."""
    dates = {m: f"{m.month}/{m.day}/{m.year} {m.hour}:{m.minute:02d}"
             for m in frame["InvoiceDate"].unique()}
    columns = [
        frame["InvoiceNo"].tolist(), frame["StockCode"].tolist(),
        ["" if d == "Unknown" else d for d in frame["Description"].tolist()],
        frame["Quantity"].tolist(), [dates[m] for m in frame["InvoiceDate"]],
        [repr(p) for p in frame["UnitPrice"].tolist()],
        ["" if c != c else int(c) for c in frame["CustomerID"].tolist()],
        frame["Country"].tolist(),
    ]
    with open(path, "w", encoding="latin-1", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(frame.columns)
        writer.writerows(zip(*columns))


def xlsx(frame, path: Path) -> None:
    """The whole frame as Excel writes a workbook (shared strings, date-styled day numbers),
    by the tests' vectorised writer: openpyxl would take minutes."""
    import pandas as pd

    sys.path.insert(0, str(REPO / "tests"))
    from test_dataset_xlsx import excel_like, excel_sheet_from_frame

    sheet, strings = excel_sheet_from_frame(pd, frame)
    excel_like(path, [], sheet_xml=sheet, shared=strings)


def stream(path: Path, start: int = 0, limit: int | None = None) -> tuple[float, float, int]:
    """(seconds to the first line, seconds in all, lines) for iter_lines from `start`."""
    from orderhist.dataset import iter_lines

    began = time.perf_counter()
    lines = iter_lines(path, start)
    first = None
    count = 0
    for _ in lines:
        if first is None:
            first = time.perf_counter() - began
        count += 1
        if limit and count >= limit:
            break
    return first or 0.0, time.perf_counter() - began, count


def raw_csv_rate(path: Path) -> float:
    began = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as handle:
        count = sum(1 for _ in csv.reader(handle)) - 1
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the copies here and keep them")
    args = parser.parse_args()
    from orderhist.dataset import REAL_ROWS, write_synthetic

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dataset-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}

    synthetic = work / "synthetic-full.csv"
    began = time.perf_counter()
    write_synthetic(synthetic, REAL_ROWS, 1)
    results["synth_full_seconds"] = round(time.perf_counter() - began, 2)
    results["synth_full_mb"] = round(synthetic.stat().st_size / 1e6, 1)
    first, total, count = stream(synthetic)
    raw = raw_csv_rate(synthetic)
    results["iter_lines_first_line_s"] = round(first, 3)
    results["iter_lines_rows_per_s"] = round(count / total)
    results["csv_reader_rows_per_s"] = round(raw)
    results["iter_lines_vs_csv_reader"] = round(raw / (count / total), 1)
    first, _, _ = stream(synthetic, 500_000, limit=100)
    results["iter_lines_start_500000_first_line_s"] = round(first, 3)
    bundled = REPO / "data" / "OnlineRetail.csv"
    first, _, _ = stream(bundled, 0, limit=100)
    results["bundled_first_line_s"] = round(first, 3)
    results["synthetic_full_info"] = child("info", synthetic)

    if REAL.exists():
        import pandas as pd

        frame = pd.read_parquet(REAL)
        results["real_parquet_load"] = child("load", REAL)
        results["real_parquet_info"] = child("info", REAL)
        latin1 = work / "online_retail_latin1.csv"
        kaggle_csv(frame, latin1)
        results["real_latin1_csv_load"] = child("load", latin1)
        results["real_latin1_csv_info"] = child("info", latin1)
        book = work / "online_retail.xlsx"
        xlsx(frame, book)
        results["real_xlsx_load"] = child("load", book)
        results["real_xlsx_info"] = child("info", book)
    else:
        results["real"] = f"skipped: {REAL} is absent"

    print(json.dumps(results, indent=2))
    if not args.keep:
        for path in work.iterdir():
            path.unlink()
        work.rmdir()


if __name__ == "__main__":
    main()
