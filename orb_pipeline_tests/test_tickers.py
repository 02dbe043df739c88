"""One ticker rule for the warehouse, the ticker sensor, staging and the cache."""

import pytest

from orb_pipeline.core.tickers import is_valid_ticker, validate_ticker


@pytest.mark.parametrize("ticker", ["SPY", "BRK.B", "BF-B", "1INCH", "A", "A" * 16])
def test_accepted(ticker):
    assert is_valid_ticker(ticker) and validate_ticker(ticker) == ticker


@pytest.mark.parametrize(
    "ticker", ["", "spy", "SP Y", "A" * 17, ".SPY", "../etc", "SPY_X", "SPY'--", None, 5]
)
def test_rejected_naming_the_value(ticker):
    assert not is_valid_ticker(ticker)
    with pytest.raises(ValueError, match="ticker must be 1-16 characters .* got " + repr(ticker)):
        validate_ticker(ticker)
