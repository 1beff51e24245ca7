"""What both sides of the emulator use: the CLI side (`orderhist.emulator`, which starts and
checks the server) and the server process (`emulator.server`)."""
from __future__ import annotations

from orderhist.errors import OrderhistError

HOST = "127.0.0.1"
ROUTE_PREFIX = "/_orderhist/"
# Set to "0" in the emulator's environment to serve stock moto (only the correctness fixes):
# the reference the benchmarks and the equivalence tests compare against.
FAST_ENV = "ORDERHIST_EMULATOR_FAST"


class EmulatorError(OrderhistError):
    pass


def check_fault_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise EmulatorError(f"a fault rate is a fraction in [0, 1), not {rate}")
