"""The dataset orderhist ships: a synthetic file in the UCI shape (see `synth`), used when no
--source is given."""
from __future__ import annotations

from pathlib import Path

BUNDLED_NAME = "OnlineRetail.csv"


def bundled_dataset() -> Path:
    """data/OnlineRetail.csv: inside the installed package, or at the checkout's root."""
    here = Path(__file__).resolve()
    packaged = here.parents[1] / "data" / BUNDLED_NAME
    if packaged.exists():
        return packaged
    return here.parents[3] / "data" / BUNDLED_NAME
