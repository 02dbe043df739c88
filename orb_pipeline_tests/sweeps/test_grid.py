"""Grid configuration: default grid, blocks, chunking, and clear errors for bad configuration."""

from __future__ import annotations

import polars as pl
import pytest

from orb_pipeline import engine
from orb_pipeline.sweeps.grid import GridConfigError, chunk_of, load_settings, parse_settings

BLOCK = {
    "range_seconds": [30, 60],
    "stop_distance": {"start": 0.1, "stop": 0.5, "step": 0.1},
    "stop_count_limit": [1, 2],
    "stop_cooloff_period": [0, 60],
    "limit_distance": {"start": 1, "stop": 3, "step": 1},
}


def test_default_is_the_original_grid_of_9747():
    settings = load_settings({})
    grid = settings.grid()
    assert grid.height == 9747
    assert grid["range_seconds"].unique().to_list() == [30]
    assert settings.chunk_keys() == ["000", "001", "002", "003"]


def test_blocks_union_without_duplicates_and_chunks_cover_the_grid_exactly_once():
    settings = parse_settings(
        {"blocks": [BLOCK, {**BLOCK, "range_seconds": [60, 300]}], "chunks": 7}
    )
    grid = settings.grid()
    # 2 x 5 x 2 x 2 x 3 = 120 per block; range 60 appears in both blocks.
    assert grid.height == 180
    assert sorted(grid["range_seconds"].unique().to_list()) == [30, 60, 300]
    chunks = [chunk_of(grid, i, 7) for i in range(7)]
    assert sum(c.height for c in chunks) == 180
    assert max(c.height for c in chunks) - min(c.height for c in chunks) <= 1
    assert pl.concat(chunks).equals(grid)


def test_settings_come_from_files_and_environment(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        "chunks = 3\n[[blocks]]\nrange_seconds = [30]\nstop_distance = [0.5]\n"
        "stop_count_limit = [1]\nstop_cooloff_period = [0]\nlimit_distance = [1.0, 2.0, 3.0, 4.0]\n"
    )
    settings = load_settings({"ORB_SWEEP_GRID": str(path)})
    assert settings.grid().height == 4 and settings.chunks == 3
    assert load_settings({"ORB_SWEEP_GRID": str(path), "ORB_SWEEP_CHUNKS": "2"}).chunks == 2


@pytest.mark.parametrize(
    "raw,message",
    [
        (
            {"blocks": [{**BLOCK, "stop_distance": [-0.1, 0.2]}]},
            "'stop_distance' must be finite, > 0 and <= 1,000,000, got \\[-0.1\\]",
        ),
        ({"blocks": [{**BLOCK, "limit_distance": []}]}, "'limit_distance' has no values"),
        ({"blocks": []}, "blocks is empty"),
        (
            {"blocks": [{**BLOCK, "stop_size": [1]}]},
            "blocks.0.stop_size: Extra inputs are not permitted",
        ),
        (
            {"blocks": [{k: v for k, v in BLOCK.items() if k != "range_seconds"}]},
            "blocks.0.range_seconds: Field required",
        ),
        (
            {"blocks": [{**BLOCK, "stop_count_limit": [0]}]},
            "'stop_count_limit' must be integers in \\[1, 1000000\\]",
        ),
        (
            {"blocks": [{**BLOCK, "stop_distance": {"start": 1, "stop": 2, "step": 0}}]},
            "step must be > 0",
        ),
        ({"blocks": [BLOCK], "chunks": 0}, "chunks must be >= 1"),
        ({"blocks": [BLOCK], "chunks": 1000}, "chunks = 1000 is more than the grid's 120 rows"),
        # issue 15: values the int64 unit arithmetic cannot hold, refused at load naming the field
        (
            {"blocks": [{**BLOCK, "stop_distance": [1e15, 1e16, 1e300]}]},
            "'stop_distance' must be finite, > 0 and <= 1,000,000, got \\[1000000000000000.0, 1e\\+16, 1e\\+300\\]",
        ),
        (
            {"blocks": [{**BLOCK, "stop_cooloff_period": [2**70]}]},
            "'stop_cooloff_period' must be integers",
        ),
        (
            {"blocks": [{**BLOCK, "range_seconds": {"start": 1, "stop": 2**70, "step": 2**60}}]},
            "'range_seconds' must be integers in \\[1, 86400\\]",
        ),
        (
            {
                "blocks": [
                    {**BLOCK, "limit_distance": {"start": 1, "stop": float("inf"), "step": 1}}
                ]
            },
            "blocks.0.limit_distance: stop must be finite, got inf",
        ),
        (
            {
                "blocks": [
                    {**BLOCK, "limit_distance": {"start": 1, "stop": 2, "step": float("nan")}}
                ]
            },
            "blocks.0.limit_distance: step must be finite, got nan",
        ),
        (
            {
                "blocks": [
                    {**BLOCK, "limit_distance": {"start": 1e308, "stop": 1.7e308, "step": 1e-308}}
                ]
            },
            "blocks.0.limit_distance: the range has .* values, more than a grid may have",
        ),
        # booleans are not 1 and 0
        (
            {"blocks": [{**BLOCK, "stop_count_limit": [True]}]},
            "blocks.0.stop_count_limit.0: Input should be a valid integer, got True",
        ),
        (
            {
                "blocks": [
                    {**BLOCK, "stop_cooloff_period": {"start": False, "stop": 60, "step": 30}}
                ]
            },
            "blocks.0.stop_cooloff_period.start: Input should be a valid integer, got False",
        ),
        # a distance below one price unit, and two distances naming the same unit (same backtest_id)
        (
            {"blocks": [{**BLOCK, "stop_distance": [0.00004, 0.5]}]},
            "'stop_distance' must be at least \\$0.0001 \\(one price unit\\), got \\[4e-05\\]",
        ),
        (
            {"blocks": [{**BLOCK, "limit_distance": [0.50001, 0.50004]}]},
            "'limit_distance' has values 0.50001 and 0.50004, which round to the same \\$0.0001 unit \\(5000\\)",
        ),
        (
            {"blocks": [BLOCK, {**BLOCK, "stop_distance": [0.10001]}]},
            "'stop_distance' has values 0.1 and 0.10001, which round to the same",
        ),
    ],
)
def test_bad_configuration_fails_naming_the_field(raw, message):
    with pytest.raises(GridConfigError, match=message):
        parse_settings(raw)


def test_grid_size_limit_is_checked_before_anything_is_built():
    """A step of 1e-12 or a product of huge axes used to hang or allocate tens of GiB while the
    definitions loaded; the row count is computed first (tracemalloc: well under 1 MiB)."""
    import tracemalloc

    huge = {
        **BLOCK,
        "stop_distance": {"start": 0.01, "stop": 100, "step": 0.01},
        "limit_distance": {"start": 0.01, "stop": 100, "step": 0.01},
    }
    tracemalloc.start()
    with pytest.raises(
        GridConfigError, match="the grid has 800,000,000 rows, more than the limit of 10,000,000"
    ):
        parse_settings({"blocks": [huge]})
    with pytest.raises(GridConfigError, match="the range has 99,900,000,000,001 values"):
        parse_settings(
            {"blocks": [{**BLOCK, "stop_distance": {"start": 0.1, "stop": 100, "step": 1e-12}}]}
        )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20


def test_unreadable_grid_file_names_the_file(tmp_path):
    with pytest.raises(GridConfigError, match="ORB_SWEEP_GRID file .*missing.toml"):
        load_settings({"ORB_SWEEP_GRID": str(tmp_path / "missing.toml")})
    with pytest.raises(GridConfigError, match="ORB_SWEEP_CHUNKS must be an integer"):
        load_settings({"ORB_SWEEP_CHUNKS": "many"})


def test_sweeps_charge_realistic_costs_by_default_and_zero_costs_stay_possible():
    default = parse_settings({})
    options = default.engine_options()
    assert options["distance_unit"] == "dollars"
    assert options["costs"] == engine.Costs(0.005, 2.0, "bps")
    assert default.cost_description() == (
        "$0.005/share commission + 2 bps slippage per side, distances in dollars"
    )
    gross = parse_settings(
        {"costs": {"commission_per_share": 0, "slippage": 0}, "distance_unit": "percent"}
    )
    assert gross.engine_options() == {
        "costs": engine.Costs(0.0, 0.0, "bps"),
        "distance_unit": "percent",
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"costs": {"commission_per_share": -0.01}}, "commission_per_share"),
        ({"costs": {"slippage": float("nan")}}, "slippage"),
        ({"costs": {"slippage_unit": "percent"}}, "slippage_unit"),
        ({"costs": {"fee": 1.0}}, "fee"),
        ({"distance_unit": "expected_move"}, "distance_unit"),
    ],
)
def test_bad_cost_model_fails_naming_the_field(raw, message):
    with pytest.raises(GridConfigError, match=message):
        parse_settings(raw)
