"""Deterministic demo warehouse: realistic 1-second option snapshots in an embedded SQLite file.

SPY, QQQ and IWM over the XNYS sessions 2025-09-02 .. 2025-11-28 (63 sessions, including the
2025-11-03 DST change and the 2025-11-28 early close). Per ticker and session the generator draws,
from a seed derived from ``(seed, ticker, session)``:

- a day regime (trending up, trending down or choppy / mean-reverting) and a daily volatility;
- a per-second price path with U-shaped intraday volatility, rounded to cents;
- prints: nearly every second in the first minutes, then sparser, denser again before the close
  (about 6,000 rows per ticker and session), 1-4 option rows per printing second whose
  ``underlying`` can differ by a cent within the second (so source order matters);
- option rows with a strike near the money, Black-Scholes delta and an implied volatility smile
  (skew and curvature in log-moneyness, higher at the open);
- one trading halt: IWM on 2025-10-15, no prints 11:00-11:10 New York, then a 1.5% gap.

The file is written to a temporary name and renamed, so a half-built warehouse is never seen.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from orb_pipeline.calendar import session_table
from orb_pipeline.core.files import replacing
from orb_pipeline.warehouse.schema import greeks_table

DEMO_TICKERS = ("SPY", "QQQ", "IWM")
DEMO_FIRST_SESSION = "2025-09-02"
DEMO_LAST_SESSION = "2025-11-28"
DEMO_SEED = 20250902
DEMO_START_PRICES = {"SPY": 640.0, "QQQ": 570.0, "IWM": 235.0}
HALT = (
    "IWM",
    "2025-10-15",
    5400,
    6000,
)  # ticker, session, halt start/end in seconds after the open
GENERATOR_VERSION = "1"


def _seed(seed: int, *parts: str) -> int:
    digest = hashlib.sha256("|".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _norm_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + _erf(x / math.sqrt(2.0)))


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz-Stegun 7.1.26 (|error| < 1.5e-7): plenty for a synthetic delta.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    y = 1.0 - (
        ((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592
    ) * t * np.exp(-x * x)
    return sign * y


def generate_session(
    ticker: str, session_date: str, open_utc: int, close_utc: int, start_price: float, seed: int
) -> tuple[dict[str, np.ndarray], float]:
    """Rows of one ticker and session (columns of the greeks table without ``id``, time order)
    and the session's closing price (the next session's starting point)."""
    rng = np.random.default_rng(_seed(seed, ticker, session_date))
    seconds = close_utc - open_utc + 1
    elapsed = np.arange(seconds, dtype=np.float64)
    to_close = seconds - 1 - elapsed

    daily_vol = rng.uniform(0.006, 0.016)
    regime = rng.choice(["up", "down", "choppy"], p=[0.3, 0.3, 0.4])
    shape = 0.7 + 1.2 * np.exp(-elapsed / 1200.0) + 0.6 * np.exp(-to_close / 1800.0)
    sigma = daily_vol / math.sqrt(23400.0) * shape
    shocks = rng.standard_normal(seconds) * sigma
    if regime == "choppy":
        # Mean reversion toward the open: an AR(1) on the log deviation, applied in blocks.
        log_path = np.empty(seconds)
        level = 0.0
        kappa = 1.0 / 900.0
        for block in range(0, seconds, 60):
            end = min(seconds, block + 60)
            local = np.cumsum(shocks[block:end]) + level
            local -= kappa * (np.arange(1, end - block + 1)) * level
            log_path[block:end] = local
            level = local[-1]
    else:
        drift = (1.0 if regime == "up" else -1.0) * rng.uniform(0.004, 0.012) / seconds
        log_path = np.cumsum(shocks + drift)

    halted = np.zeros(seconds, dtype=bool)
    if (ticker, session_date) == HALT[:2]:
        halted[HALT[2] : HALT[3]] = True
        log_path[HALT[3] :] += math.log(1.015)
    gap = rng.normal(0.0, 0.004)
    price = np.round(start_price * math.exp(gap) * np.exp(log_path), 2)

    print_probability = np.clip(
        0.10 + 0.9 * np.exp(-elapsed / 420.0) + 0.35 * np.exp(-to_close / 900.0), 0, 1
    )
    prints = (rng.random(seconds) < print_probability) & ~halted
    prints[0] = True  # the opening print
    printing_seconds = np.flatnonzero(prints)
    per_second = 1 + np.minimum(rng.poisson(0.6, printing_seconds.size), 3)
    second_of_row = np.repeat(printing_seconds, per_second)
    rows = second_of_row.size

    jitter = rng.choice([-0.01, 0.0, 0.0, 0.0, 0.01], size=rows)
    underlying = np.round(price[second_of_row] + jitter, 2)
    log_moneyness = rng.normal(0.0, 0.025, rows)
    strike = np.round(underlying * np.exp(log_moneyness))
    years = rng.choice([1.0, 7.0, 30.0], size=rows) / 365.0
    atm_iv = daily_vol * math.sqrt(252.0) * (1.1 + 0.25 * np.exp(-elapsed[second_of_row] / 2400.0))
    moneyness = np.log(strike / underlying)
    iv = np.clip(
        atm_iv * (1.0 - 1.5 * moneyness + 25.0 * moneyness**2) + rng.normal(0, 0.003, rows),
        0.03,
        3.0,
    )
    d1 = (-moneyness + 0.5 * iv**2 * years) / (iv * np.sqrt(years))
    is_call = rng.random(rows) < 0.5
    delta = np.where(is_call, _norm_cdf(d1), _norm_cdf(d1) - 1.0)
    columns = {
        "timestamp_utc": (open_utc + second_of_row).astype(np.int64),
        "ticker": np.full(rows, ticker, dtype=object),
        "underlying": underlying,
        "delta": np.round(delta, 4),
        "implied_volatility": np.round(iv, 4),
        "strike": strike,
        "option_type": np.where(is_call, "C", "P").astype(object),
    }
    return columns, float(price[-1])


ROW_COLUMNS = (
    "timestamp_utc",
    "ticker",
    "underlying",
    "delta",
    "implied_volatility",
    "strike",
    "option_type",
)
"""The warehouse columns a generated row fills, in insert order."""


def build_demo_warehouse(
    path: str | os.PathLike,
    *,
    tickers: tuple[str, ...] = DEMO_TICKERS,
    first_session: str = DEMO_FIRST_SESSION,
    last_session: str = DEMO_LAST_SESSION,
    seed: int = DEMO_SEED,
    table: str = "greeks",
) -> int:
    """Write the demo warehouse to ``path`` (atomically, replacing any file); returns the row count."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sessions = session_table(first_session, last_session)
    total = 0
    with replacing(target) as temporary_path:
        temporary = str(temporary_path)
        engine = sa.create_engine(sa.engine.URL.create("sqlite", database=temporary))
        greeks_table(table).metadata.create_all(engine)
        engine.dispose()
        greeks = greeks_table(table)
        columns = list(ROW_COLUMNS)
        compiled = (
            greeks.insert()
            .values({name: sa.bindparam(name) for name in columns})
            .compile(dialect=sa.dialects.sqlite.dialect())
        )
        insert, columns = str(compiled), list(compiled.positiontup)
        connection = sqlite3.connect(temporary)
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        last_price = {ticker: DEMO_START_PRICES.get(ticker, 100.0) for ticker in tickers}
        for day, open_utc, close_utc in sessions.select(
            "session_date", "open_utc", "close_utc"
        ).iter_rows():
            for ticker in tickers:
                data, last_price[ticker] = generate_session(
                    ticker, day.isoformat(), open_utc, close_utc, last_price[ticker], seed
                )
                values = [data[name].tolist() for name in columns]
                connection.executemany(insert, zip(*values, strict=True))
                total += len(values[0])
        connection.commit()
        connection.close()
    return total
