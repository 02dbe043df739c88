"""What a trader reads: labels, units and rounding of shown results (results/display.py)."""

import math

import pytest

from orb_pipeline.results import display


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0 s"),
        (45, "45 s"),
        (12.25, "12.2 s"),
        (59.96, "1 min"),
        (60, "1 min"),
        (270, "4 min 30 s"),
        (3599, "59 min 59 s"),
        (3600, "1 h 00 min"),
        (5 * 3600 + 7 * 60 + 59, "5 h 07 min"),
        (None, "-"),
        (math.nan, "-"),
    ],
)
def test_durations_read_in_words(seconds, expected):
    assert display.duration_text(seconds) == expected


def test_win_rates_of_days_and_trades_have_different_labels():
    assert display.label("win_rate_percent") == "winning days %"
    assert display.label("trade_win_rate_percent") == "winning trades %"


def test_each_unit_is_rounded_its_own_way():
    # the figures the issue saw printed unrounded
    assert display.text("sharpe", 5.792503839959541) == "5.79"
    assert display.text("backtest_profit", 10.930000000000003) == "10.93"
    assert display.text("win_rate_percent", 79.36507936507937) == "79.4"
    assert display.text("average_holding_period", 1234.5) == "20 min 34 s"
    assert display.text("stop_distance", 0.4) == "0.4"
    assert display.rounded("backtest_profit", -4.889999999999) == -4.89
    assert display.rounded("trades", 136) == 136
    assert display.rounded("sharpe", math.nan) is None and display.text("sharpe", None) == "-"


def test_parameters_in_words_name_the_unit():
    row = {
        "range_seconds": 300,
        "stop_distance": 0.05,
        "limit_distance": 2.5,
        "stop_count_limit": 1,
        "stop_cooloff_period": 0,
    }
    assert display.parameters_text(row) == (
        "5 min range, stop $0.05, limit $2.50, at most 1 stop a day, no cooloff"
    )
    assert display.parameters_text(row, "percent").startswith(
        "5 min range, stop 0.05 %, limit 2.5 %"
    )


def test_text_table_uses_labels_and_leaves_out_missing_columns():
    rows = [{"rank": 1, "sharpe": 5.7925, "win_rate_percent": 79.365}]
    assert display.text_table(
        rows, ["rank", "sharpe", "trades", "win_rate_percent"]
    ).splitlines() == [
        "#  Sharpe (annualized)  winning days %",
        "1                 5.79            79.4",
    ]


def test_table_metadata_rounds_and_types_each_column():
    rows = [
        {"rank": 1, "sharpe": 5.792503839959541, "average_holding_period": 75.0, "parameters": "p"},
        {"rank": 2, "sharpe": None, "average_holding_period": 30.0, "parameters": "q"},
    ]
    table = display.table_metadata(rows, ["rank", "sharpe", "average_holding_period", "parameters"])
    names = [column.name for column in table.schema.columns]
    kinds = [column.type for column in table.schema.columns]
    assert names == ["#", "Sharpe (annualized)", "average holding", "parameters"]
    short = display.table_metadata(rows, ["rank", "sharpe"], short=True)
    assert [column.name for column in short.schema.columns] == ["#", "Sharpe"]
    assert short.schema.columns[1].description.startswith("Sharpe (annualized): annualized")
    assert dict(short.records[0].data) == {"#": 1, "Sharpe": 5.79}
    assert kinds == ["int", "float", "string", "string"]
    first, second = (dict(record.data) for record in table.records)
    assert first == {
        "#": 1,
        "Sharpe (annualized)": 5.79,
        "average holding": "1 min 15 s",
        "parameters": "p",
    }
    assert second["Sharpe (annualized)"] is None
