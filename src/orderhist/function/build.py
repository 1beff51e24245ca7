"""Build the Lambda zip: only the modules the handler imports, byte-for-byte reproducible,
so its CodeSha256 is stable and `up` leaves an unchanged function alone."""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
# (path in the zip, source file or None for an empty package marker)
MODULES = (
    ("orderhist/__init__.py", None),
    ("orderhist/aws_errors.py", PACKAGE_ROOT / "aws_errors.py"),
    ("orderhist/errors.py", PACKAGE_ROOT / "errors.py"),
    ("orderhist/records.py", PACKAGE_ROOT / "records.py"),
    ("orderhist/refusals.py", PACKAGE_ROOT / "refusals.py"),
    ("orderhist/schema.py", PACKAGE_ROOT / "schema.py"),
    ("orderhist/textescape.py", PACKAGE_ROOT / "textescape.py"),
    ("orderhist/function/__init__.py", None),
    ("orderhist/function/handler.py", PACKAGE_ROOT / "function" / "handler.py"),
)
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def build_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in sorted(MODULES):
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever machine builds it
            archive.writestr(info, source.read_bytes() if source else b"")
    return buffer.getvalue()


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 of the zip."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode("ascii")
