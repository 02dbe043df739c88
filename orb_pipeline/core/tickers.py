"""The one rule for a ticker name, applied wherever a ticker enters: the warehouse query, the
ticker sensor's universe, staging keys and cache paths.

A ticker is 1-16 characters of ``A-Z``, ``0-9``, ``.`` and ``-``, starting with a letter or digit
(upper case only). Only this alphabet ever reaches a query text, a Redis key or a file name.
"""

from __future__ import annotations

import re

TICKER_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,15}$")


def is_valid_ticker(value: object) -> bool:
    return isinstance(value, str) and TICKER_PATTERN.match(value) is not None


def validate_ticker(ticker: str) -> str:
    """``ticker`` unchanged when valid; else ``ValueError`` naming the rule and the value."""
    if not is_valid_ticker(ticker):
        raise ValueError(
            f"ticker must be 1-16 characters of A-Z, 0-9, '.', '-' (upper case), got {ticker!r}"
        )
    return ticker
