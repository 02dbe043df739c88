import base64
import datetime
import math

import numpy as np
import polars as pl
import pytest

from orb_pipeline.core.pictures import markdown_image
from orb_pipeline.validation.expected_move import sessions_without_iv, with_expected_move
from orb_pipeline.validation.plots import bootstrap_png, equity_png

D = datetime.date


def test_expected_move_hand_computed_and_nulls_counted():
    sessions = pl.DataFrame(
        {"session_date": [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 5)]}
    )
    ranges = pl.DataFrame(
        {
            "session_date": [D(2024, 1, 3), D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 5)],
            "range_seconds": [30, 30, 60, 30],
            "open_price": [100.0, 50.0, 100.0, 200.0],
            "atm_iv": [0.252, None, 0.3, 0.0],
        }
    )
    result = with_expected_move(sessions, ranges, 30)
    assert result["session_date"].to_list() == sessions["session_date"].to_list()
    moves = result["expected_move"].to_list()
    assert moves[0] is None  # IV null
    assert moves[1] == pytest.approx(100.0 * 0.252 / math.sqrt(252))
    assert moves[2] is None  # no opening range that session
    assert moves[3] is None  # IV 0 is no usable IV
    assert sessions_without_iv(result) == 3
    assert with_expected_move(sessions, ranges, 60)["expected_move"].null_count() == 3


def test_expected_move_names_bad_range_length():
    sessions = pl.DataFrame({"session_date": [D(2024, 1, 2)]})
    ranges = pl.DataFrame(
        {
            "session_date": [D(2024, 1, 2)],
            "range_seconds": [30],
            "open_price": [1.0],
            "atm_iv": [0.2],
        }
    )
    with pytest.raises(ValueError, match="range_seconds=45"):
        with_expected_move(sessions, ranges, 45)
    with pytest.raises(ValueError, match="atm_iv"):
        with_expected_move(sessions, ranges.drop("atm_iv"), 30)


def test_pictures_are_png_and_embed():
    png = equity_png(
        ["2024-01-02", "2024-01-03", "2024-01-04"],
        np.array([0.0, 1.0, 0.5]),
        np.array([1.0, 2.0, 3.0]),
        [0, 2],
        "AAPL",
    )
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = markdown_image(png, "equity")
    assert markdown.startswith("![equity](data:image/png;base64,")
    assert base64.b64decode(markdown[len("![equity](data:image/png;base64,") : -1]) == png
    rows = [
        {
            "label": "b1",
            "profit_p5": -1,
            "profit_p50": 0,
            "profit_p95": 2,
            "drawdown_p5": 0,
            "drawdown_p50": 1,
            "drawdown_p95": 3,
        }
    ]
    assert bootstrap_png(rows, "AAPL")[:4] == b"\x89PNG"
