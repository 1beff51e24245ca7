r"""The reversible escape of the log line's text fields.

The log line (see records) is one RFC 4180 CSV line whose text fields carry this backslash
escape, so that a value breaks no line for any reader (the agent splits on "\n",
`str.splitlines` also on \r, \v, \f, \x1c-\x1e, \x85, U+2028 and U+2029) and every value is
UTF-8: `\\` a backslash, `\n`, `\r`, `\0` (NUL), `\xHH` for \x0b \x0c \x1c \x1d \x1e \x85,
and `\uHHHH` for U+2028, U+2029 and a lone surrogate (U+D800-U+DFFF, which UTF-8 cannot
encode). Nothing else is escaped: tabs, quotes, commas and all other Unicode go as they are.

Shipped in the Lambda zip beside records: standard library only.
"""
from __future__ import annotations

import re

from orderhist.errors import RecordError

# The escape of the module docstring: the characters some reader splits a line at, NUL, the
# backslash that starts an escape, and lone surrogates (UTF-8 cannot encode them).
_TO_ESCAPE = re.compile("[\\\\\n\r\0\x0b\x0c\x1c-\x1e\x85\u2028\u2029\ud800-\udfff]")
_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\0": "\\0"}
_ESCAPE_SEQUENCE = re.compile(r"\\([\\nr0]|x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})?")
_UNESCAPES = {"\\": "\\", "n": "\n", "r": "\r", "0": "\0"}


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02X}" if code < 0x100 else f"\\u{code:04X}")


def escape_text(text: str) -> str:
    """A field's value as the log line carries it (see the module docstring)."""
    return _TO_ESCAPE.sub(_escape_one, text)


def unescape_text(text: str, field: str = "a field") -> str:
    """The value back out of `escape_text`; RecordError naming `field` if a backslash starts
    no escape (a line this module did not write, or one cut in the middle of an escape)."""
    if "\\" not in text:
        return text

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code is None:
            shown = text[match.start():match.start() + 6]
            raise RecordError(f"{field} holds a backslash that starts no escape ({shown!r} at "
                              f"character {match.start()}); a backslash is written as \\\\")
        return _UNESCAPES.get(code) or chr(int(code[1:], 16))
    return _ESCAPE_SEQUENCE.sub(one, text)
