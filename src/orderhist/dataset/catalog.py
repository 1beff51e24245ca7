"""The synthetic shop: its products, customers, calendar and prices.

Prices are held as integers in thousandths of a pound so that formatting them is exact and
byte-stable (PADS sell at 0.001 in the real file, which is why it is thousandths).
"""
from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate

from . import vocab

FIRST_MOMENT = datetime(2010, 12, 1, 8, 26)
LAST_MOMENT = datetime(2011, 12, 9, 12, 50)
# The shop shuts between Christmas and the new year, and never trades on a Saturday.
CLOSED = (date(2010, 12, 24), date(2011, 1, 3))

# Rows per month in the real file, in thousands, rounded: the autumn rush matters to anyone
# who replays the file with its own dates.
MONTH_WEIGHT = {
    (2010, 12): 42, (2011, 1): 35, (2011, 2): 28, (2011, 3): 37, (2011, 4): 30,
    (2011, 5): 37, (2011, 6): 37, (2011, 7): 40, (2011, 8): 35, (2011, 9): 50,
    (2011, 10): 61, (2011, 11): 85, (2011, 12): 25,
}
WEEKDAY_WEIGHT = (1.0, 1.05, 1.0, 1.05, 0.85, 0.0, 0.65)
HOUR_WEIGHT = {
    7: 0.4, 8: 9, 9: 34, 10: 49, 11: 58, 12: 79, 13: 72, 14: 67, 15: 78, 16: 55, 17: 29,
    18: 8, 19: 4, 20: 1,
}

PRICE_POINTS = (
    190, 210, 290, 390, 420, 550, 650, 720, 790, 850, 950, 1250, 1450, 1650, 1950, 2100, 2460,
    2550, 2950, 3250, 3750, 4150, 4950, 5950, 6750, 7950, 8500, 9950, 12750, 14950, 16950,
    24950, 29950, 39950,
)
PACK_SIZES = (1, 2, 3, 4, 6, 8, 10, 12, 16, 20, 24, 25, 36, 48, 72, 96, 100, 144, 200, 288)
PACK_WEIGHT = (25, 12, 5, 8, 12, 3, 6, 15, 2, 3, 4, 2, 2, 3, 1, 1, 1, 1, 0.4, 0.3)
_PACK_CUM = list(accumulate(PACK_WEIGHT))


def format_price(milli: int) -> str:
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), 1000)
    text = f"{whole}.{frac:03d}".rstrip("0").rstrip(".")
    return sign + text


@dataclass(frozen=True)
class Product:
    code: str
    description: str
    price: int  # thousandths of a pound


class Picker:
    """Weighted choice with precomputed cumulative weights: the generator's inner loop."""

    def __init__(self, items, weights):
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random):
        return self.items[bisect_right(self.cum, rng.random() * self.total)]


# Most goods cost a pound or two; a few cost tens.
_PRICES = Picker(PRICE_POINTS, [1.0 if n < 20 else 0.5 ** ((n - 19) / 2.5)
                                for n in range(len(PRICE_POINTS))])


def _name(rng: random.Random) -> str:
    form = rng.random()
    noun = rng.choice(vocab.NOUNS)
    if form < 0.3:
        return f"{rng.choice(vocab.THEMES)} {noun}"
    if form < 0.55:
        return f"{rng.choice(vocab.COLOURS)} {rng.choice(vocab.MATERIALS)} {noun}"
    if form < 0.75:
        return f"{rng.choice(vocab.SIZES)} {rng.choice(vocab.THEMES)} {noun}"
    if form < 0.9:
        return f"{rng.choice(vocab.THEMES)} {rng.choice(vocab.COLOURS)} {noun}"
    return f"{rng.choice(vocab.MATERIALS)} {noun} {rng.choice(vocab.COLOURS)}"


def make_catalog(rng: random.Random, size: int = 3800) -> tuple[list[Product], Picker]:
    """The ordinary products and a heavy-tailed popularity over them."""
    names: set[str] = set()
    codes: set[str] = set()
    products: list[Product] = []
    while len(products) < size:
        name = _name(rng)
        if name in names:
            continue
        code = str(rng.randint(10002, 90214))
        if rng.random() < 0.15:
            code += rng.choice("ABCDEFGLMNPSW")
        if code in codes:
            continue
        names.add(name)
        codes.add(code)
        # About a fifth of the real lines end in a space: the names were typed that way.
        description = name + " " if rng.random() < 0.21 else name
        products.append(Product(code, description, _PRICES.pick(rng)))
    weights = [1.0 / (rank + 8) ** 0.9 for rank in range(size)]
    return products, Picker(products, weights)


def odd_products(rng: random.Random, taken: set[str]) -> dict[str, list[Product]]:
    """Small groups of products that carry one oddity each, injected at the real file's rates."""
    def fresh_code(suffix: str = "") -> str:
        while True:
            code = str(rng.randint(10002, 90214)) + suffix
            if code.upper() not in taken:
                taken.add(code.upper())
                return code

    def product(description: str, suffix: str = "") -> Product:
        return Product(fresh_code(suffix), description, rng.choice(PRICE_POINTS[:20]))

    groups = {
        "lowercase": [product(_name(rng), rng.choice(("a", "b", "c", "l", "n", "s", "bl")))
                      for _ in range(12)],
        "leading": [product(" " + _name(rng)) for _ in range(4)],
        "comma": [product(f"{rng.choice(vocab.NOUNS)} , {rng.choice(vocab.COLOURS)}")
                  for _ in range(6)]
                 + [product(f"{rng.choice(vocab.THEMES)} {rng.choice(vocab.NOUNS)},"
                            f"{rng.choice(vocab.SIZES)}") for _ in range(8)],
        "quote": [product(f'{rng.choice(vocab.MATERIALS)} SIGN "{slogan}"')
                  for slogan in vocab.SLOGANS[:6]],
        "apostrophe": [product(f"{rng.choice(vocab.MAKERS)} {rng.choice(vocab.NOUNS)}"
                               + rng.choice(("", " ")))
                       for _ in range(14)],
    }
    groups["gift"] = [Product(f"gift_0001_{value}", f"Gift card worth £{value}.00",
                              value * 833) for value in vocab.GIFT_VALUES]
    groups["dcgs"] = [Product(f"DCGS{n:04d}", f"ASSORTED {rng.choice(vocab.NOUNS)} BOX",
                              rng.choice(PRICE_POINTS[10:])) for n in (3, 4, 68, 69, 70, 76)]
    return groups


@dataclass
class Customer:
    id: int
    country: str
    weight: float       # how often they order
    basket: float       # how many lines their invoices run to, relative to others
    bulk: float         # how many of each thing they buy, relative to others


def make_customers(rng: random.Random, count: int, first_id: int) -> list[Customer]:
    """Customers with a heavy tail of order frequency; every country has at least one."""
    count = max(count, len(vocab.COUNTRY_WEIGHTS) + 1)
    ids = rng.sample(range(12346, 18288), count + 1)
    ids = [first_id] + [i for i in ids if i != first_id][:count - 1]
    foreign = Picker([c for c, _ in vocab.COUNTRY_WEIGHTS], [w for _, w in vocab.COUNTRY_WEIGHTS])
    customers = []
    for n, cid in enumerate(ids):
        if n == 0:
            country = vocab.HOME_COUNTRY
        elif n <= len(vocab.COUNTRY_WEIGHTS):
            country = vocab.COUNTRY_WEIGHTS[n - 1][0]
        else:
            country = vocab.HOME_COUNTRY if rng.random() < 0.89 else foreign.pick(rng)
        customers.append(Customer(
            cid, country, rng.lognormvariate(0.0, 1.5), rng.lognormvariate(0.0, 0.35),
            rng.lognormvariate(0.0, 0.5)))
    # The few countries that only show up through one small customer stay small.
    for customer in customers[1:len(vocab.COUNTRY_WEIGHTS) + 1]:
        customer.weight = min(customer.weight, 0.3)
        customer.basket = min(customer.basket, 0.7)
    return customers


class Calendar:
    """Trading days weighted by season and weekday, and trading hours weighted by the clock."""

    def __init__(self) -> None:
        days, weights = [], []
        day = FIRST_MOMENT.date()
        counts: dict[tuple[int, int], int] = {}
        while day <= LAST_MOMENT.date():
            if day.weekday() != 5 and not (CLOSED[0] <= day <= CLOSED[1]):
                days.append(day)
                counts[(day.year, day.month)] = counts.get((day.year, day.month), 0) + 1
            day += timedelta(days=1)
        for day in days:
            month = (day.year, day.month)
            weights.append(MONTH_WEIGHT[month] / counts[month] * WEEKDAY_WEIGHT[day.weekday()])
        self.days = Picker(days, weights)
        self.hours = Picker(list(HOUR_WEIGHT), list(HOUR_WEIGHT.values()))

    def moment(self, rng: random.Random, after: datetime, before: datetime) -> datetime:
        while True:
            day = self.days.pick(rng)
            when = datetime(day.year, day.month, day.day, self.hours.pick(rng), rng.randrange(60))
            if after < when < before:
                return when


def quantity(rng: random.Random, bulk: float) -> int:
    base = PACK_SIZES[bisect_right(_PACK_CUM, rng.random() * _PACK_CUM[-1])]
    if bulk > 1.6 and base < 100 and rng.random() < 0.3:
        base *= 2
    return base



def sale_price(product: Product, qty: int, guest: bool) -> int:
    """The website (guest) pays about double; a dozen or more earns a wholesale discount."""
    price = product.price
    if guest:
        price = price * 195 // 100
    elif qty >= 12:
        price = price * 85 // 100
    return max(10, price // 10 * 10)
