"""Where the real UCI dataset is (541,909 rows; never copied into the project)."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def find_real_dataset() -> Path:
    """The real UCI dataset (541,909 rows), never copied into the project: from
    ORDERHIST_REAL_DATASET, else shared/data/ beside the checkout or beside any folder above
    it (a clone elsewhere on the machine finds it through the variable)."""
    named = os.environ.get("ORDERHIST_REAL_DATASET")
    if named:
        return Path(named)
    relative = Path("shared") / "data" / "online_retail.parquet"
    for folder in REPO.parents:
        if (folder / relative).exists():
            return folder / relative
    return REPO.parent / relative


REAL_DATASET = find_real_dataset()
