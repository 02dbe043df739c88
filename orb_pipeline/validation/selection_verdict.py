"""The verdict on a leaderboard row: ``promote``, ``watch`` or ``reject``, with the reason in words
(Dagster-free; the ``verdict`` asset applies it to every stored leaderboard row).

Inputs per row: its deflated Sharpe ratio, the window's PBO and the row's parameter stability
(``results/selection.py``), and the walk-forward promotion result for the same parameters: in how
many folds of the ticker's latest walk-forward these parameters met the promotion criteria
(``walk_forward_results.promotion_ready``).

- **reject** when any holds: deflated Sharpe below ``reject_deflated_sharpe`` (the best of that
  many noise trials looks as good); PBO above ``reject_pbo`` (the in-sample best usually lands
  below the out-of-sample median); the walk-forward tested these parameters and they passed in no
  fold.
- **promote** when all hold: deflated Sharpe at least ``promote_deflated_sharpe``; PBO at most
  ``promote_pbo``; stability at least ``promote_stability``; the walk-forward passed in at least
  half of its folds.
- **watch** otherwise; the reason lists what promotion still lacks (including "walk-forward not
  run" or "not tested by the walk-forward").

Thresholds are inclusive as written; defaults in :class:`VerdictThresholds`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

VERDICTS = ("promote", "watch", "reject")


@dataclass(frozen=True)
class VerdictThresholds:
    """Thresholds of the verdict (module docstring); each in [0, 1], reject below promote."""

    promote_deflated_sharpe: float = 0.95
    reject_deflated_sharpe: float = 0.5
    promote_pbo: float = 0.25
    reject_pbo: float = 0.5
    promote_stability: float = 0.5

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not 0 <= value <= 1
            ):
                raise ValueError(f"{field.name} must be a number in [0, 1], got {value!r}")
        if self.reject_deflated_sharpe > self.promote_deflated_sharpe:
            raise ValueError(
                f"reject_deflated_sharpe ({self.reject_deflated_sharpe}) must not exceed "
                f"promote_deflated_sharpe ({self.promote_deflated_sharpe})"
            )
        if self.promote_pbo > self.reject_pbo:
            raise ValueError(
                f"promote_pbo ({self.promote_pbo}) must not exceed reject_pbo ({self.reject_pbo})"
            )


def row_verdict(row: Mapping, thresholds: VerdictThresholds | None = None) -> tuple[str, str]:
    """``(verdict, reason)`` of one row with ``deflated_sharpe``, ``pbo`` (None: too short for
    CSCV), ``stability`` (None: no positive Sharpe or no neighbour), ``walk_forward_folds`` and
    ``walk_forward_passed`` (None: no walk-forward tested these parameters)."""
    t = thresholds or VerdictThresholds()
    dsr, pbo, stability = row["deflated_sharpe"], row.get("pbo"), row.get("stability")
    folds, passed = row.get("walk_forward_folds"), row.get("walk_forward_passed")

    rejections = []
    if dsr < t.reject_deflated_sharpe:
        rejections.append(
            f"deflated Sharpe {dsr:.2f} < {t.reject_deflated_sharpe:.2f}: the best of the "
            "window's backtests on noise would look as good"
        )
    if pbo is not None and pbo > t.reject_pbo:
        rejections.append(
            f"PBO {pbo:.2f} > {t.reject_pbo:.2f}: the in-sample best usually ranks below the "
            "median out of sample"
        )
    if folds and passed == 0:
        rejections.append(f"walk-forward: passed 0 of {folds} folds")
    if rejections:
        return "reject", "; ".join(rejections)

    checks = [
        (
            dsr >= t.promote_deflated_sharpe,
            f"deflated Sharpe {dsr:.2f}"
            + (" >= " if dsr >= t.promote_deflated_sharpe else " < ")
            + f"{t.promote_deflated_sharpe:.2f}",
        ),
        (
            pbo is not None and pbo <= t.promote_pbo,
            "PBO not computed (window too short)"
            if pbo is None
            else f"PBO {pbo:.2f}"
            + (" <= " if pbo <= t.promote_pbo else " > ")
            + f"{t.promote_pbo:.2f}",
        ),
        (
            stability is not None and stability >= t.promote_stability,
            "no parameter stability (Sharpe not positive or no grid neighbour)"
            if stability is None
            else f"stability {stability:.2f}"
            + (" >= " if stability >= t.promote_stability else " < ")
            + f"{t.promote_stability:.2f}",
        ),
        (
            bool(folds) and 2 * passed >= folds,
            "not tested by a walk-forward yet"
            if not folds
            else f"walk-forward passed {passed} of {folds} folds",
        ),
    ]
    if all(ok for ok, _ in checks):
        return "promote", "; ".join(text for _, text in checks)
    return "watch", "not promoted: " + "; ".join(text for ok, text in checks if not ok)
