"""`orders`: which table to read, which queries to make and which invoice's lines to draw.
The reading itself is history's.
"""
from __future__ import annotations

from dataclasses import dataclass

from orderhist import aws, history
from orderhist.errors import UsageProblem
from orderhist.history import History, Order
from orderhist.state import Home, StackState, require_state


@dataclass(frozen=True)
class PastOrders:
    history: History  # the customer's page of orders, or the --invoice alone
    selected: History | None  # the invoice whose lines are drawn in full (or none)
    invoice_asked: bool
    target: aws.Target  # where --follow keeps reading
    table: str

    @property
    def shown(self) -> History:
        """What --json and --csv print: the invoice asked for, else the customer's page."""
        return self.selected or self.history

    @property
    def drawn(self) -> Order | None:
        return self.selected.orders[0] if self.selected and self.selected.orders else None

    @property
    def invoice_missing(self) -> bool:
        return self.invoice_asked and self.drawn is None


def table_name(state: StackState) -> str:
    return state.resource_id("table") or f"{state.prefix}-orders"


def look_up(home: Home, customer: str | None, invoice: str | None, *, limit: int | None = None,
            since: str | None = None, until: str | None = None, after: str | None = None,
            table_view: bool = False) -> PastOrders:
    """A customer's orders (the page `limit`, `after`, `since` and `until` select) and, with
    `invoice` or in the `table_view`, one invoice's lines; or, without a customer, the
    invoice alone (guests' included)."""
    if not customer and not invoice:
        raise UsageProblem("name a --customer, an --invoice, or both")
    history.date_bounds(since, until)  # a range that ends before it starts: exit 2 first
    state = require_state(home)
    target, table = state.target(), table_name(state)
    # No health probe first: a stopped emulator shows up as a refused connection, which the
    # CLI reports as "run orderhist up", and `orders` stays one request fast.
    if not customer:
        assert invoice  # one of the two, checked above
        found = history.invoice_history(target, table, invoice)
        return PastOrders(found, found, bool(invoice), target, table)
    result = history.customer_history(target, table, customer, limit=limit, since=since,
                                      until=until, after=after, line_details=not table_view)
    # The table view draws one invoice's lines in full: --invoice, or the newest.
    shown = invoice or (result.orders[0].invoice if table_view and result.orders else None)
    selected = history.invoice_history(target, table, shown, customer) if shown else None
    return PastOrders(result, selected, bool(invoice), target, table)
