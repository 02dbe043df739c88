"""Exchange sessions: DST, holidays, early closes, explicit bounds far from today."""

import datetime as dt

import pytest

from orb_pipeline.calendar import session_bounds, session_table


def test_dst_early_close_and_holidays():
    table = session_table("2025-03-07", "2025-11-28")
    bounds = {d.isoformat(): (o, c, e) for d, o, c, e in table.iter_rows()}
    assert bounds["2025-03-07"] == (1741357800, 1741381200, False)  # 14:30-21:00 UTC (EST)
    assert bounds["2025-03-10"] == (1741613400, 1741636800, False)  # 13:30-20:00 UTC (EDT)
    assert bounds["2025-11-03"] == (1762180200, 1762203600, False)  # 14:30-21:00 UTC (EST again)
    assert bounds["2025-11-28"] == (1764340200, 1764352800, True)  # early close 13:00 New York
    for holiday in ("2025-04-18", "2025-07-04", "2025-09-01", "2025-11-27"):
        assert holiday not in bounds
    assert table["session_date"].is_sorted()


def test_dates_far_from_the_library_default_span():
    assert session_bounds("1999-12-31") is not None
    assert session_bounds("2035-01-02") is not None  # beyond exchange_calendars' default end
    assert session_bounds("2035-01-01") is None  # New Year's Day
    assert session_table(dt.date(2030, 1, 5), dt.date(2030, 1, 6)).is_empty()  # a weekend


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="start must be"):
        session_table("2025-13-01", "2025-12-31")
    with pytest.raises(ValueError, match="before start"):
        session_table("2025-12-31", "2025-01-01")
    with pytest.raises(ValueError, match="unknown exchange calendar 'NOPE'"):
        session_table("2025-01-02", "2025-01-03", exchange="NOPE")
