"""Slow plain-Python references for ``orb_pipeline.statistics.overfitting``, written from the papers.

- Deflated Sharpe ratio: Bailey and Lopez de Prado (2014), equations for the expected maximum
  Sharpe ratio of N unskilled trials and the probabilistic Sharpe ratio against it, with the
  standard normal of the ``statistics`` module.
- PBO: Bailey, Borwein, Lopez de Prado and Zhu (2015), CSCV steps 1-6 over a list of rows: build
  the submatrices, form every in-sample half and its complement by concatenating blocks in order,
  rank the trials, take the in-sample best's relative out-of-sample rank and its logit. Sharpe
  ratios are compared through ``mean x |mean| / variance``, computed exactly with fractions, which
  orders trials exactly as their Sharpe ratios do (so exact ties stay ties).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from statistics import NormalDist

EULER_GAMMA = 0.5772156649015329


def expected_maximum_sharpe(n_trials: int, variance: float) -> float:
    if n_trials == 1:
        return 0.0
    z = NormalDist().inv_cdf
    return math.sqrt(variance) * (
        (1 - EULER_GAMMA) * z(1 - 1 / n_trials) + EULER_GAMMA * z(1 - 1 / (n_trials * math.e))
    )


def deflated_sharpe_ratio(sharpe, n_trials, variance, observations, skew, kurtosis) -> float:
    benchmark = expected_maximum_sharpe(n_trials, variance)
    spread = math.sqrt(1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe**2)
    return NormalDist().cdf((sharpe - benchmark) * math.sqrt(observations - 1) / spread)


def sharpe_key(values: list[float]) -> Fraction:
    """``mean x |mean| / variance`` (ddof 1) exactly; 0 when the variance is 0."""
    exact = [Fraction(v) for v in values]
    n = len(exact)
    mean = sum(exact) / n
    variance = sum((v - mean) ** 2 for v in exact) / (n - 1)
    if variance == 0:
        return Fraction(0)
    return mean * abs(mean) / variance


def pbo(rows: list[list[float]], n_blocks: int) -> tuple[float, list[float]]:
    """``(pbo, logits)`` of ``rows`` (one list per session, one value per trial)."""
    size = len(rows) // n_blocks
    blocks = [rows[b * size : (b + 1) * size] for b in range(n_blocks)]
    n_trials = len(rows[0])
    logits = []
    for half in itertools.combinations(range(n_blocks), n_blocks // 2):
        train = [row for b in half for row in blocks[b]]
        test = [row for b in range(n_blocks) if b not in half for row in blocks[b]]
        train_keys = [sharpe_key([row[t] for row in train]) for t in range(n_trials)]
        test_keys = [sharpe_key([row[t] for row in test]) for t in range(n_trials)]
        best = max(range(n_trials), key=lambda t: (train_keys[t], -t))
        below = sum(1 for key in test_keys if key < test_keys[best])
        tied = sum(1 for key in test_keys if key == test_keys[best])
        rank = below + (tied + 1) / 2  # the average of ranks below + 1 .. below + tied
        omega = rank / (n_trials + 1)
        logits.append(math.log(omega / (1 - omega)))
    return sum(1 for value in logits if value <= 0) / len(logits), logits
