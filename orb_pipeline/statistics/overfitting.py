"""Selection-bias statistics of a grid of backtests (Dagster-free, public API).

``deflated_sharpe_ratio``
    Bailey and Lopez de Prado, "The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest
    Overfitting and Non-Normality", Journal of Portfolio Management 40(5), 2014. The probability
    that the true Sharpe ratio exceeds ``SR0``, the expected maximum Sharpe ratio of ``n_trials``
    unskilled trials whose Sharpe ratios have variance ``trials_sharpe_variance``::

        SR0 = sqrt(V) x ((1 - g) x Phi^-1(1 - 1/N) + g x Phi^-1(1 - 1/(N e)))     (g: Euler's gamma)
        DSR = Phi((SR - SR0) x sqrt(T - 1) / sqrt(1 - skew x SR + (kurtosis - 1) / 4 x SR^2))

    Every input is per observation (per session, not annualized); ``kurtosis`` is non-excess (3 for
    a normal distribution). With one trial nothing was selected: ``SR0 = 0`` and the DSR is the
    probabilistic Sharpe ratio against 0. Read it as a probability: above 0.95 the edge survives
    the number of trials; near 0.5 or below it is what the best of that many coin flips shows.

``probability_of_backtest_overfitting``
    Bailey, Borwein, Lopez de Prado and Zhu, "The Probability of Backtest Overfitting", Journal of
    Computational Finance 20(4), 2017 (SSRN 2326253, 2015): combinatorially symmetric
    cross-validation (CSCV) over ``pnl`` (sessions x trials):

    - sessions are cut into ``n_blocks`` contiguous blocks of ``n // n_blocks`` sessions; the
      remainder is dropped from the end;
    - each choice of ``n_blocks / 2`` blocks, in ``itertools.combinations(range(n_blocks),
      n_blocks // 2)`` order, is one in-sample half; the other blocks are out of sample;
    - the statistic is the Sharpe ratio (mean / standard deviation with ddof 1) of per-session P&L,
      0 when the deviation is 0;
    - the in-sample best is the trial with the highest in-sample Sharpe, ties to the lowest index;
    - ``omega = (its out-of-sample rank among the N trials, 1 = worst, ties averaged) / (N + 1)``,
      ``logit = ln(omega / (1 - omega))``; PBO is the share of splits with ``logit <= 0``: the
      probability that the in-sample winner is at or below the out-of-sample median. Near 0: the
      selection generalizes; near 0.5: the ranking is noise; above 0.5: it is worse than choosing
      at random.

How the CSCV kernel is fast: per trial and block it keeps the sum and the sum of squares of the
P&L, so a half's Sharpe ratio is ``s1 x sqrt((n - 1) / n) / sqrt(n x s2 - s1^2)`` from eight
block sums, and trials are compared through ``s1 x |s1| / (n x s2 - s1^2)`` (ordered exactly as
their Sharpe ratios; no square root). When ``n x s2 - s1^2`` is within round-off of 0 the half is
recomputed from its sessions (exactly 0 when every value is equal, else two-pass). With
integer-valued P&L (the engine's units of $0.0001) below 2^53 / n the sums are exact, and so are
ties. ``orb_pipeline_tests/statistics/overfitting_reference.py`` is the slow reference;
``python -m benchmarks.overfitting`` measures the kernel.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numba import njit, prange

EULER_GAMMA = 0.5772156649015329

# Relative size of n x s2 - s1^2 below which a half's deviation is recomputed from its sessions.
_NEAR_CONSTANT = 1e-9


def _real(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _integer(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def expected_maximum_sharpe(n_trials: int, trials_sharpe_variance: float) -> float:
    """``SR0``: the expected maximum per-observation Sharpe ratio of ``n_trials`` unskilled trials
    whose Sharpe ratios have variance ``trials_sharpe_variance`` (module docstring); 0 for one
    trial."""
    n_trials = _integer("n_trials", n_trials, 1)
    variance = _real("trials_sharpe_variance", trials_sharpe_variance)
    if variance < 0:
        raise ValueError(f"trials_sharpe_variance must be >= 0, got {variance!r}")
    if n_trials == 1 or variance == 0:
        return 0.0
    normal = NormalDist()
    expected = (1 - EULER_GAMMA) * normal.inv_cdf(1 - 1 / n_trials) + EULER_GAMMA * normal.inv_cdf(
        1 - 1 / (n_trials * math.e)
    )
    return math.sqrt(variance) * expected


@njit(cache=True)
def _deflated_nb(sharpe, benchmark, n_observations, skew, kurtosis):
    out = np.empty(sharpe.shape[0], dtype=np.float64)
    root = math.sqrt(n_observations - 1.0)
    for i in range(sharpe.shape[0]):
        sr = sharpe[i]
        variance = 1.0 - skew[i] * sr + (kurtosis[i] - 1.0) / 4.0 * sr * sr
        if variance <= 0.0:  # a two-point distribution at its bound: no estimation error
            out[i] = 1.0 if sr > benchmark else (0.0 if sr < benchmark else 0.5)
        else:
            z = (sr - benchmark) * root / math.sqrt(variance)
            out[i] = 0.5 * math.erfc(-z / math.sqrt(2.0))
    return out


def _array(name: str, values) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if array.ndim != 1:
        raise ValueError(f"{name} must be a number or a 1-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (found NaN or infinity)")
    return array


def deflated_sharpe_ratios(
    sharpe, n_trials: int, trials_sharpe_variance: float, n_observations: int, skew, kurtosis
) -> np.ndarray:
    """:func:`deflated_sharpe_ratio` of many trials sharing ``n_trials``, the variance and
    ``n_observations``; ``sharpe``, ``skew`` and ``kurtosis`` are equal-length arrays (or
    numbers). Same validation, same arithmetic."""
    benchmark = expected_maximum_sharpe(n_trials, trials_sharpe_variance)
    n_observations = _integer("n_observations", n_observations, 2)
    sharpe = _array("sharpe", sharpe)
    skew = _array("skew", skew)
    kurtosis = _array("kurtosis", kurtosis)
    if not (sharpe.shape == skew.shape == kurtosis.shape):
        raise ValueError(
            f"sharpe, skew and kurtosis must have one length, got {sharpe.shape[0]}, "
            f"{skew.shape[0]} and {kurtosis.shape[0]}"
        )
    bound = 1.0 + skew * skew
    if np.any(kurtosis < bound - 1e-9 * bound):
        raise ValueError(
            "kurtosis must be the non-excess kurtosis (3 for a normal distribution), which is "
            f">= 1 + skew^2 for every distribution; got kurtosis {kurtosis.min()!r} "
            "(pass excess kurtosis + 3)"
        )
    return _deflated_nb(sharpe, benchmark, float(n_observations), skew, kurtosis)


def deflated_sharpe_ratio(
    sharpe: float,
    n_trials: int,
    trials_sharpe_variance: float,
    n_observations: int,
    skew: float,
    kurtosis: float,
) -> float:
    """The deflated Sharpe ratio (Bailey and Lopez de Prado 2014; module docstring), in [0, 1].

    ``sharpe``: the selected trial's Sharpe ratio per observation (not annualized);
    ``n_trials``: how many trials the selection was made from (>= 1);
    ``trials_sharpe_variance``: the variance of those trials' per-observation Sharpe ratios (>= 0);
    ``n_observations``: observations behind ``sharpe`` (>= 2); ``skew`` and ``kurtosis``: of the
    selected trial's per-observation returns, kurtosis non-excess (3 for a normal distribution,
    at least ``1 + skew^2``). Invalid input raises ``ValueError`` naming the argument.
    """
    sharpe = _real("sharpe", sharpe)
    skew = _real("skew", skew)
    kurtosis = _real("kurtosis", kurtosis)
    return float(
        deflated_sharpe_ratios(
            sharpe, n_trials, trials_sharpe_variance, n_observations, skew, kurtosis
        )[0]
    )


@dataclass(frozen=True)
class PBOResult:
    """``pbo``: share of splits with ``logit <= 0``; ``logits``: one per split, in
    ``itertools.combinations(range(n_blocks), n_blocks // 2)`` order; ``n_splits``."""

    pbo: float
    logits: np.ndarray
    n_splits: int


@njit(cache=True)
def _block_sums_nb(pnl, n_blocks, block):
    """Per block and trial: sum and sum of squares, shape ``(n_blocks, n_trials)`` each."""
    n_trials = pnl.shape[1]
    sums = np.zeros((n_blocks, n_trials), dtype=np.float64)
    squares = np.zeros((n_blocks, n_trials), dtype=np.float64)
    for b in range(n_blocks):
        for i in range(b * block, (b + 1) * block):
            for t in range(n_trials):
                value = pnl[i, t]
                sums[b, t] += value
                squares[b, t] += value * value
    return sums, squares


@njit(cache=True)
def _exact_key_nb(pnl, trial, blocks, block):
    """``sharpe x |sharpe| x n / (n - 1)`` of one trial over the given blocks' sessions, from the
    sessions themselves: 0 when every value is equal, else two-pass mean and deviation."""
    n = blocks.shape[0] * block
    first = pnl[blocks[0] * block, trial]
    constant = True
    total = 0.0
    for k in range(blocks.shape[0]):
        for i in range(blocks[k] * block, (blocks[k] + 1) * block):
            total += pnl[i, trial]
            if pnl[i, trial] != first:
                constant = False
    if constant:
        return 0.0
    mean = total / n
    squares = 0.0
    for k in range(blocks.shape[0]):
        for i in range(blocks[k] * block, (blocks[k] + 1) * block):
            deviation = pnl[i, trial] - mean
            squares += deviation * deviation
    if squares == 0.0:
        return 0.0
    sharpe = mean / math.sqrt(squares / (n - 1))
    return sharpe * abs(sharpe) * n / (n - 1)


@njit(cache=True, error_model="numpy")
def _half_keys_nb(pnl, sums, squares, blocks, block):
    """Per trial, a key ordered as its Sharpe ratio over ``blocks`` (module docstring)."""
    n_trials = sums.shape[1]
    n = blocks.shape[0] * block
    s1 = np.zeros(n_trials, dtype=np.float64)
    s2 = np.zeros(n_trials, dtype=np.float64)
    for k in range(blocks.shape[0]):
        b = blocks[k]
        for t in range(n_trials):
            s1[t] += sums[b, t]
            s2[t] += squares[b, t]
    keys = np.empty(n_trials, dtype=np.float64)
    near_constant = 0
    for t in range(n_trials):
        spread = n * s2[t] - s1[t] * s1[t]
        key = s1[t] * abs(s1[t]) / spread
        if spread > _NEAR_CONSTANT * n * s2[t]:
            keys[t] = key
        else:
            keys[t] = 0.0
            near_constant += 1
    if near_constant:
        for t in range(n_trials):
            spread = n * s2[t] - s1[t] * s1[t]
            if spread <= _NEAR_CONSTANT * n * s2[t] and (s1[t] != 0.0 or s2[t] != 0.0):
                keys[t] = _exact_key_nb(pnl, t, blocks, block)
    return keys


@njit(cache=True)
def _logit_nb(in_keys, out_keys):
    """The logit of the out-of-sample relative rank of the in-sample best (ties: lowest index)."""
    n_trials = in_keys.shape[0]
    best = 0
    for t in range(1, n_trials):
        if in_keys[t] > in_keys[best]:
            best = t
    chosen = out_keys[best]
    below = 0
    equal = 0
    for t in range(n_trials):
        if out_keys[t] < chosen:
            below += 1
        elif out_keys[t] == chosen:
            equal += 1
    omega = (below + (equal + 1) / 2.0) / (n_trials + 1.0)
    return math.log(omega / (1.0 - omega))


@njit(cache=True, parallel=True)
def _cscv_logits_nb(pnl, sums, squares, in_sample, complement, block):
    """Logits of every split; split ``i`` and its complement ``complement[i]`` share their two
    halves' keys, so each half is computed once (pairs with ``i < complement[i]``)."""
    n_splits = in_sample.shape[0]
    logits = np.empty(n_splits, dtype=np.float64)
    for split in prange(n_splits):
        other = complement[split]
        if other < split:
            continue
        keys = _half_keys_nb(pnl, sums, squares, in_sample[split], block)
        other_keys = _half_keys_nb(pnl, sums, squares, in_sample[other], block)
        logits[split] = _logit_nb(keys, other_keys)
        logits[other] = _logit_nb(other_keys, keys)
    return logits


def cscv_splits(n_blocks: int) -> tuple[np.ndarray, np.ndarray]:
    """In-sample block indices of every split, ``(n_splits, n_blocks // 2)`` (ascending), in
    ``itertools.combinations(range(n_blocks), n_blocks // 2)`` order, and for each split the index
    of the split whose in-sample half is its out-of-sample half."""
    halves = list(itertools.combinations(range(n_blocks), n_blocks // 2))
    position = {half: index for index, half in enumerate(halves)}
    everything = set(range(n_blocks))
    complement = [position[tuple(sorted(everything - set(half)))] for half in halves]
    return np.array(halves, dtype=np.int64), np.array(complement, dtype=np.int64)


def probability_of_backtest_overfitting(pnl, n_blocks: int = 16) -> PBOResult:
    """CSCV probability of backtest overfitting (module docstring) of ``pnl``, a float array of
    sessions x trials (rows chronological). ``n_blocks`` must be an even integer >= 2 with at least
    2 sessions per block; ``pnl`` must be 2-D, finite, with at least one trial. Invalid input
    raises ``ValueError`` naming the argument."""
    if isinstance(n_blocks, bool) or not isinstance(n_blocks, numbers.Integral):
        raise ValueError(f"n_blocks must be an even integer >= 2, got {n_blocks!r}")
    n_blocks = int(n_blocks)
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError(f"n_blocks must be an even integer >= 2, got {n_blocks}")
    try:
        array = np.asarray(pnl, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"pnl must be a float array of sessions x trials: {error}") from None
    if array.ndim != 2:
        raise ValueError(f"pnl must be 2-D (sessions x trials), got shape {array.shape}")
    sessions, trials = array.shape
    if trials < 1:
        raise ValueError("pnl must hold at least one trial (column)")
    block = sessions // n_blocks
    if block < 2:
        raise ValueError(
            f"n_blocks={n_blocks} leaves {block} session(s) per block of pnl's {sessions} "
            "sessions; at least 2 are needed (use fewer blocks or more sessions)"
        )
    used = np.ascontiguousarray(array[: block * n_blocks])
    if not np.all(np.isfinite(used)):
        raise ValueError("pnl must be finite (found NaN or infinity)")
    sums, squares = _block_sums_nb(used, n_blocks, block)
    in_sample, complement = cscv_splits(n_blocks)
    logits = _cscv_logits_nb(used, sums, squares, in_sample, complement, block)
    return PBOResult(
        pbo=float(np.mean(logits <= 0.0)), logits=logits, n_splits=int(logits.shape[0])
    )


__all__ = [
    "PBOResult",
    "cscv_splits",
    "deflated_sharpe_ratio",
    "deflated_sharpe_ratios",
    "expected_maximum_sharpe",
    "probability_of_backtest_overfitting",
]
