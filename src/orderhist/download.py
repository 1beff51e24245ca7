"""Fetch the real UCI Online Retail file (CC BY 4.0) for users who want the full dataset."""
from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from orderhist.errors import OrderhistError

UCI_URL = "https://archive.ics.uci.edu/static/public/352/online+retail.zip"
MEMBER = "Online Retail.xlsx"


def download_uci(out: Path, url: str = UCI_URL, timeout: float = 60.0) -> int:
    """Download the archive and save the xlsx inside it to `out`; return its size."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            payload = reply.read()
    except (urllib.error.URLError, OSError) as error:
        raise OrderhistError(f"could not download {url}: {error}; "
                             "fetch it by hand and use `--source`") from None
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            data = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError):
        raise OrderhistError(f"{url} did not hold {MEMBER!r}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return len(data)
