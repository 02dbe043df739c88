"""Trading costs (docs/SEMANTICS_EXTENSIONS.md): per side, applied after the state machine."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from orb_pipeline.engine.units import round_half_away_nb

SLIPPAGE_UNITS = ("dollars", "bps")


@dataclass(frozen=True)
class Costs:
    """Per-side costs of one share.

    ``commission_per_share`` dollars per side; ``slippage`` per side, in dollars or in basis points
    of the traded price (``slippage_unit="bps"``). A round trip costs
    ``2*commission + (2*slippage | slippage/10000*(entry_price+exit_price))`` dollars, rounded to
    units half away from zero. Costs never change which trades happen.
    """

    commission_per_share: float = 0.0
    slippage: float = 0.0
    slippage_unit: str = "dollars"

    def __post_init__(self) -> None:
        for name in ("commission_per_share", "slippage"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"Costs.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Costs.{name} must be finite and >= 0, got {value!r}")
        if self.slippage_unit not in SLIPPAGE_UNITS:
            raise ValueError(
                f"Costs.slippage_unit must be one of {SLIPPAGE_UNITS}, got {self.slippage_unit!r}"
            )

    def kernel_args(self) -> tuple[float, float, bool]:
        """(commission, slippage, slippage_in_bps) as the kernels take them."""
        return float(self.commission_per_share), float(self.slippage), self.slippage_unit == "bps"


NO_COSTS = Costs()


@njit(cache=True, inline="always")
def trade_cost_units_nb(commission, slippage, slippage_bps, entry_units, exit_units):
    """Round-trip cost of one trade in units (see ``Costs``); 0 when both costs are 0."""
    if commission == 0.0 and slippage == 0.0:
        return np.int64(0)
    if slippage_bps:
        dollars = 2.0 * commission + slippage / 10000.0 * (
            entry_units / 10000.0 + exit_units / 10000.0
        )
    else:
        dollars = 2.0 * commission + 2.0 * slippage
    return round_half_away_nb(dollars * 10000.0)
