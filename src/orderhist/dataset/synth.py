"""A deterministic generator of OnlineRetail-shaped data with the real file's proportions.

Rates are per 541,909 rows (the real file); each class also has a floor so a file of a few tens
of thousands of rows still shows every oddity the pipeline has to cope with. The same (rows,
seed) gives the same rows, and `write_synthetic` the same bytes.
"""
from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..errors import UsageProblem
from ..schema import CUSTOMER_ID, DATASET_COLUMNS, DESCRIPTION, INVOICE_DATE, UNIT_PRICE
from . import catalog, vocab
from .catalog import FIRST_MOMENT, LAST_MOMENT, Product, format_price

REAL_ROWS = 541_909
# The bundled data/OnlineRetail.csv is write_synthetic(.., BUNDLED_ROWS, BUNDLED_SEED).
BUNDLED_ROWS, BUNDLED_SEED = 40_000, 2010
FIRST_CUSTOMER = 17850
FIRST_INVOICE, LAST_INVOICE = 536365, 581587
BAD_DEBT_DAY = datetime(2011, 8, 12, 14, 50)
BAD_DEBT_MILLI = 11_062_060


@dataclass
class Invoice:
    when: datetime
    customer: int | None
    country: str
    prefix: str = ""
    # [code, description, quantity, price in thousandths]
    lines: list[list] = field(default_factory=list)
    second_time_from: int | None = None  # lines from here on carry the next minute
    duplicates: set[int] = field(default_factory=set)  # lines that are, or have, a copy
    pinned: bool = False  # placed by hand: the oddities are not put on it


def _scaled(real: float, rows: int, floor: int) -> int:
    return max(floor, round(real * rows / REAL_ROWS))


class _Builder:
    def __init__(self, rows: int, seed: int):
        self.rows = rows
        self.rng = random.Random(seed)
        self.products, self.popular = catalog.make_catalog(self.rng)
        self.odd = catalog.odd_products(self.rng, {p.code.upper() for p in self.products})
        self.customers = catalog.make_customers(
            self.rng, _scaled(4372, rows, 40), FIRST_CUSTOMER)
        self.by_weight = catalog.Picker(self.customers, [c.weight for c in self.customers])
        self.calendar = catalog.Calendar()
        self.invoices: list[Invoice] = []

    # -- invoice kinds ------------------------------------------------------------------------

    def _line(self, inv: Invoice, bulk: float, taken: set | None = None) -> list:
        product = self.popular.pick(self.rng)
        if taken is not None:
            # An order lists a thing once; repeats are made on purpose below.
            while product.code in taken:
                product = self.popular.pick(self.rng)
            taken.add(product.code)
        qty = catalog.quantity(self.rng, bulk)
        return [product.code, product.description, qty,
                catalog.sale_price(product, qty, inv.customer is None)]

    def sale(self, size: int, customer, when: datetime | None = None) -> Invoice:
        rng = self.rng
        when = when or self.calendar.moment(rng, FIRST_MOMENT + timedelta(minutes=30),
                                            LAST_MOMENT)
        if customer is None:
            country = vocab.HOME_COUNTRY if rng.random() < 0.989 else rng.choice(
                ("EIRE", "France", "Unspecified", "Hong Kong", "Germany"))
            inv, bulk = Invoice(when, None, country), 0.5
        else:
            inv, bulk = Invoice(when, customer.id, customer.country), customer.bulk
        taken: set[str] = set()
        for _ in range(size):
            # About one line in a hundred is keyed twice: an exact copy of an earlier line.
            if inv.lines and rng.random() < 0.0095:
                source = rng.randrange(len(inv.lines))
                inv.duplicates.update((source, len(inv.lines)))
                inv.lines.append(list(inv.lines[source]))
            elif len(taken) < 600:
                inv.lines.append(self._line(inv, bulk, taken))
            else:
                inv.lines.append(self._line(inv, bulk))
        self.invoices.append(inv)
        return inv

    def cancellation(self, size: int, customer) -> Invoice:
        when = self.calendar.moment(self.rng, FIRST_MOMENT + timedelta(minutes=30), LAST_MOMENT)
        inv = Invoice(when, customer.id if customer else None,
                      customer.country if customer else vocab.HOME_COUNTRY, prefix="C")
        for _ in range(size):
            code, description, qty, price = self._line(inv, customer.bulk if customer else 1)
            inv.lines.append([code, description, -qty, price])
        self.invoices.append(inv)
        return inv

    def adjustment(self, positive: bool) -> Invoice:
        """A stock clerk's line: no customer, no price, often no description."""
        rng = self.rng
        when = self.calendar.moment(rng, FIRST_MOMENT + timedelta(minutes=30), LAST_MOMENT)
        inv = Invoice(when, None, vocab.HOME_COUNTRY)
        product = self.popular.pick(rng)
        qty = max(1, int(rng.paretovariate(1.2) * 3))
        notes = vocab.FOUND_NOTES if positive else vocab.ADJUSTMENT_NOTES
        description = "" if rng.random() < 0.55 else rng.choice(notes)
        inv.lines.append([product.code, description, qty if positive else -qty, 0])
        self.invoices.append(inv)
        return inv

    # -- the plan -----------------------------------------------------------------------------

    def build(self) -> list[Invoice]:
        rng, rows = self.rng, self.rows
        first = self.customers[0]
        # The file opens with a run of one customer's invoices, as the real one does.
        opening = [(0, 14), (2, 9), (8, 12), (15, 11), (19, 10)]
        for minutes, size in opening:
            self.sale(size, first, FIRST_MOMENT + timedelta(minutes=minutes))
        self.sale(12, rng.choice(self.customers[1:]), LAST_MOMENT)
        self._bad_debt()
        self._extreme_pair()
        for inv in self.invoices:
            inv.pinned = True

        budget = rows - sum(len(i.lines) for i in self.invoices)
        cancel_rows = _scaled(9288, rows, 6)
        adjust_rows = _scaled(1336, rows, 3)
        found_rows = _scaled(1139, rows, 3)
        for _ in range(adjust_rows):
            self.adjustment(positive=False)
        for _ in range(found_rows):
            self.adjustment(positive=True)
        made = 0
        while made < cancel_rows:
            # Most cancellations take back one line; a few take back a whole order.
            draw = rng.random()
            size = 1 if draw < 0.6 else 2 + int(rng.expovariate(1 / 1.6)) if draw < 0.975 \
                else min(101, 5 + int(rng.paretovariate(1.2) * 5))
            size = min(cancel_rows - made, size)
            guest = rng.random() < 0.04
            self.cancellation(size, None if guest else self.by_weight.pick(rng))
            made += size
        budget -= cancel_rows + adjust_rows + found_rows

        guest_budget = round(0.2493 * rows) - adjust_rows - found_rows
        if rows >= 20_000:
            # Invoices of a thousand lines and more exist; the website places them.
            bigs = (1102, 761, 718) if rows >= 300_000 else (1000 + rng.randrange(120),)
            for size in bigs:
                self.sale(size, None)
                guest_budget -= size
                budget -= size
        guest_budget = max(0, min(guest_budget, budget))
        budget -= guest_budget
        while guest_budget > 0:
            size = min(guest_budget, max(1, min(700, round(rng.lognormvariate(3.6, 1.5)))))
            self.sale(size, None)
            guest_budget -= size

        # Every customer orders at least once; the rest of the orders follow the heavy tail.
        queue = self.customers[1:]
        rng.shuffle(queue)
        while budget > 0:
            customer = queue.pop() if queue else self.by_weight.pick(rng)
            size = round(rng.lognormvariate(math.log(13), 0.95) * customer.basket)
            size = min(budget, max(1, min(540, size)))
            self.sale(size, customer)
            budget -= size
        self._inject()
        self._two_timestamps()
        return self.invoices

    def _bad_debt(self):
        # One positive adjustment and two that write it off, on one afternoon.
        for minutes, sign in ((0, 1), (1, -1), (2, -1)):
            inv = Invoice(BAD_DEBT_DAY + timedelta(minutes=minutes), None, vocab.HOME_COUNTRY,
                          prefix="A")
            inv.lines.append(["B", "Adjustment for bad debt", 1, sign * BAD_DEBT_MILLI])
            self.invoices.append(inv)

    def _extreme_pair(self):
        rng = self.rng
        customer = rng.choice(self.customers[1:])
        product = self.popular.pick(rng)
        qty = rng.randrange(60_000, 80_000)
        sale = self.sale(0, customer, datetime(2011, 12, 9, 9, 15))
        sale.lines.append([product.code, product.description, qty, max(10, product.price // 2)])
        undo = Invoice(sale.when + timedelta(minutes=2), customer.id, customer.country, "C")
        undo.lines.append([product.code, product.description, -qty, sale.lines[0][3]])
        self.invoices.append(undo)

    # -- oddities placed on existing lines -----------------------------------------------------

    def _slots(self, want: int, eligible) -> list[tuple[Invoice, int]]:
        """Up to `want` distinct (invoice, line) places on invoices that pass `eligible`."""
        rng = self.rng
        pool = [inv for inv in self.invoices if not inv.pinned and eligible(inv)]
        chosen: set[tuple[int, int]] = set()
        slots: list[tuple[Invoice, int]] = []
        for _ in range(want * 20):
            if len(slots) >= want or not pool:
                break
            inv = rng.choice(pool)
            n = rng.randrange(len(inv.lines))
            key = (id(inv), n)
            if key in chosen or n in inv.duplicates or inv.second_time_from is not None:
                continue
            chosen.add(key)
            slots.append((inv, n))
        return slots

    def _inject(self):
        rng, rows = self.rng, self.rows

        def sale(inv):
            return not inv.prefix and inv.lines[0][3] != 0

        def customer_sale(inv):
            return sale(inv) and inv.customer is not None

        def guest_sale(inv):
            return sale(inv) and inv.customer is None

        def where(code):
            if code == "POST":  # postage: foreign customers pay it
                return lambda inv: customer_sale(inv) and inv.country != vocab.HOME_COUNTRY
            if code == "DOT":  # the website's postage, on its big orders
                return lambda inv: guest_sale(inv) and len(inv.lines) > 20
            if code == "C2":  # carriage to Ireland and the islands
                return lambda inv: sale(inv) and inv.country in ("EIRE", "Channel Islands")
            if code == "AMAZONFEE":
                return lambda inv: inv.prefix == "C" and inv.customer is None
            if code in vocab.CANCEL_CODES:
                return lambda inv: inv.prefix == "C"
            return customer_sale

        def price_between(low, high):
            if high < 0.01:
                return round(low * 1000)
            return round(rng.uniform(low, high) * 100) * 10

        def put(want, eligible, make):
            for inv, n in self._slots(want, eligible):
                inv.lines[n] = make(inv, inv.lines[n])

        for table, sign in ((vocab.SPECIAL_CODES, 1), (vocab.CANCEL_CODES, -1)):
            for code, (real, floor, description, (low, high)) in table.items():
                put(_scaled(real, rows, floor), where(code),
                    lambda inv, line, c=code, d=description, lo=low, hi=high, q=sign:
                    [c, d, q, price_between(lo, hi)])
        # One manual line was keyed with a lowercase code.
        put(1, customer_sale, lambda inv, line: ["m", "Manual", 1, 2500])

        def odd(group):
            def make(inv, line):
                product: Product = rng.choice(self.odd[group])
                price = product.price if group == "gift" else catalog.sale_price(
                    product, line[2], inv.customer is None)
                return [product.code, product.description, line[2], price]
            return make

        for group, real, floor, eligible in (
                ("lowercase", 1977, 8, sale), ("leading", 1271, 4, sale),
                ("comma", 4796, 12, sale), ("quote", 1239, 6, sale),
                ("apostrophe", 8666, 20, sale), ("gift", 34, 4, guest_sale),
                ("dcgs", 45, 2, guest_sale)):
            put(_scaled(real, rows, floor), eligible, odd(group))
        # A customer is sometimes given a thing for nothing.
        put(_scaled(40, rows, 2), customer_sale, lambda inv, line: line[:3] + [0])

    def _two_timestamps(self):
        want = _scaled(43, self.rows, 1)
        pool = [inv for inv in self.invoices
                if not inv.pinned and not inv.prefix and len(inv.lines) >= 2 and not inv.duplicates
                and inv.when.date() != LAST_MOMENT.date()]
        for inv in self.rng.sample(pool, min(want, len(pool))):
            inv.second_time_from = len(inv.lines) // 2


def synth_rows(rows: int, seed: int) -> list[tuple]:
    """Rows of (InvoiceNo, StockCode, Description, Quantity, datetime, UnitPrice text,
    CustomerID int or None, Country), in file order."""
    if rows < 1:
        raise UsageProblem("rows must be at least 1")
    invoices = _Builder(rows, seed).build()
    # Sorting by time, ties kept in the order made, numbers the invoices as the shop's till
    # would: one rising sequence shared by sales, cancellations and adjustments.
    invoices.sort(key=lambda inv: inv.when)
    step = max(1.0, (LAST_INVOICE - FIRST_INVOICE) / max(1, len(invoices) - 1))
    jitter = random.Random(f"numbers-{seed}")
    out = []
    for n, inv in enumerate(invoices):
        offset = 0.0 if n in (0, len(invoices) - 1) else jitter.random() * (step - 1)
        number = f"{inv.prefix}{FIRST_INVOICE + math.floor(n * step + offset)}"
        later = inv.when + timedelta(minutes=1)
        for k, (code, description, qty, price) in enumerate(inv.lines):
            when = later if inv.second_time_from is not None and k >= inv.second_time_from \
                else inv.when
            out.append((number, code, description, qty, when, format_price(price),
                        inv.customer, inv.country))
    return out[:rows]


def kaggle_date(when: datetime) -> str:
    return f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"


def write_synthetic(out: Path, rows: int, seed: int) -> None:
    """Write `rows` synthetic rows as a UCI/Kaggle-style CSV (UTF-8, `12/1/2010 8:26` dates)."""
    out = Path(out)
    data = synth_rows(rows, seed)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DATASET_COLUMNS)
        for number, code, description, qty, when, price, customer, country in data:
            writer.writerow((number, code, description, qty, kaggle_date(when), price,
                             "" if customer is None else customer, country))
    tmp.replace(out)


def synth(rows: int, seed: int):
    """The synthetic rows as a DataFrame typed like the real parquet (CustomerID float)."""
    import pandas as pd

    data = synth_rows(rows, seed)
    frame = pd.DataFrame(data, columns=list(DATASET_COLUMNS))
    frame[DESCRIPTION] = frame[DESCRIPTION].mask(frame[DESCRIPTION] == "")
    frame[INVOICE_DATE] = pd.to_datetime(frame[INVOICE_DATE])
    frame[UNIT_PRICE] = frame[UNIT_PRICE].astype(float)
    frame[CUSTOMER_ID] = frame[CUSTOMER_ID].astype("float64")
    return frame
