"""Workbooks as Excel writes them (shared strings, date styles), for the dataset tests."""
from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
</Types>"""
ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
BOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
</Relationships>"""


def workbook(date1904: bool = False, prefix: str = "") -> str:
    p = f"{prefix}:" if prefix else ""
    ns = f'xmlns{":" + prefix if prefix else ""}="{MAIN}"'
    pr = f'<{p}workbookPr date1904="1"/>' if date1904 else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><{p}workbook {ns} xmlns:r="{REL}">{pr}'
            f'<{p}sheets><{p}sheet name="Online Retail" sheetId="1" r:id="rId7"/></{p}sheets>'
            f"</{p}workbook>")


def styles(date_format: str | None = None) -> str:
    """Style 1 shows a date: built-in format 22, or a custom one."""
    fmts, fmt_id = "", 22
    if date_format:
        fmts, fmt_id = (f'<numFmts count="1"><numFmt numFmtId="164" '
                        f'formatCode="{escape(date_format, {chr(34): "&quot;"})}"/></numFmts>',
                        164)
    return (f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{MAIN}">{fmts}'
            f'<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="{fmt_id}" '
            f'applyNumberFormat="1"/></cellXfs></styleSheet>')


def serial(moment: datetime, epoch=datetime(1899, 12, 30)) -> str:
    return repr((moment - epoch).total_seconds() / 86400)


def excel_like(path: Path, rows, sheet_xml: str | None = None, shared=(), **options) -> None:
    """Write rows (header first) as Excel does: text in shared strings, dates as styled
    serial numbers, empty cells left out."""
    strings: dict[str, int] = {}
    table = list(shared)  # sharedStrings.xml, in order; the big test brings its own
    out = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if value is None:
                continue
            if isinstance(value, str):
                index = strings.get(value)
                if index is None:
                    index = strings[value] = len(table)
                    table.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{index}</v></c>')
            elif isinstance(value, datetime):
                cells.append(f'<c r="{ref}" s="1"><v>{serial(value)}</v></c>')
            else:
                cells.append(f'<c r="{ref}"><v>{value!r}</v></c>')
        out.append(f'<row r="{r}">{"".join(cells)}</row>')
    sheet = sheet_xml or (f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">'
                          f'<sheetData>{"".join(out)}</sheetData></worksheet>')
    shared = "".join(f'<si><t xml:space="preserve">{escape(s)}</t></si>' for s in table)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", workbook(options.get("date1904", False),
                                                  options.get("prefix", "")))
        book.writestr("xl/_rels/workbook.xml.rels", BOOK_RELS)
        book.writestr("xl/styles.xml", styles(options.get("date_format")))
        book.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{shared}</sst>')
        book.writestr("xl/worksheets/sheet1.xml", sheet)


HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country"]
