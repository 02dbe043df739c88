"""Issue 15 item 6: walk-forward block by block equals the one-block path exactly, for any block
size, and the engine's blocks equal one ``session_stats`` call."""

import numba
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from orb_pipeline import engine
from orb_pipeline.validation import runner
from orb_pipeline.validation.runner import SplitSpec, walk_forward_in_blocks, walk_forward_on_stats
from orb_pipeline.validation.scoring import PromotionCriteria, ScoreWeights
from orb_pipeline.validation.splits import walk_forward_folds
from orb_pipeline.validation.walk_forward import FoldSelection, evaluate_folds
from orb_pipeline_tests.validation.test_engine_reference import frames, random_sessions, small_grid

STAT_ARRAYS = (
    "net_units",
    "trades",
    "stops",
    "winning_trades",
    "win_units",
    "loss_units",
    "holding_seconds",
    "gross_units",
    "return_percent",
    "profit_r",
)


def tied_grid() -> pl.DataFrame:
    """``small_grid`` plus far distances that never trigger (identical results, tied scores)
    placed between ordinary rows, so ties straddle block edges."""
    far = engine.make_grid(
        range_seconds=[10, 45],
        stop_distance=[90.0],
        stop_count_limit=[1, 2],
        stop_cooloff_period=[0],
        limit_distance=[95.0],
    )
    grid = small_grid("dollars")
    return pl.concat([grid.head(5), far, grid.slice(5, 8), far.reverse(), grid.slice(40, 8)])


def assert_same_result(got, expected) -> None:
    for name in ("chosen", "equity"):
        assert_frame_equal(getattr(got, name), getattr(expected, name), check_exact=True)
    assert got.full_window_choice == expected.full_window_choice
    assert got.combinations == expected.combinations
    assert got.promotion_ready_results == expected.promotion_ready_results


@pytest.fixture
def one_thread():
    """Tiny blocks mean thousands of parallel-kernel launches, whose thread hand-offs dominate on
    a busy machine; results do not depend on the thread count."""
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    block_rows=st.integers(1, 30),
    train=st.integers(2, 5),
    test=st.integers(1, 3),
    anchored=st.booleans(),
    distance_unit=st.sampled_from(["dollars", "percent"]),
)
def test_blocks_equal_one_block_exactly(seed, block_rows, train, test, anchored, distance_unit):
    rng = np.random.default_rng(seed)
    series, table = frames(random_sessions(rng, count=11, ticks=90))
    grid = tied_grid() if distance_unit == "dollars" else small_grid(distance_unit).slice(20, 25)
    costs = engine.Costs(0.001, 0.5, "bps")
    split = SplitSpec(train_sessions=train, test_sessions=test, anchored=anchored)
    weights = ScoreWeights(0.5, 2.0)
    criteria = PromotionCriteria({"min_test_profit": -1.0, "max_generalization_gap": 1.5})
    stats = engine.session_stats(series, table, grid, costs=costs, distance_unit=distance_unit)
    whole = walk_forward_on_stats(stats, split, weights, criteria)

    def in_blocks(sink=None):
        return walk_forward_in_blocks(
            series,
            table,
            grid,
            split,
            weights,
            criteria,
            costs=costs,
            distance_unit=distance_unit,
            block_rows=block_rows,
            sink=sink,
        )

    kept = in_blocks()
    assert kept.blocks == -(-grid.height // block_rows)
    assert_same_result(kept.result, whole)
    assert_frame_equal(kept.result.evaluations, whole.evaluations, check_exact=True)
    assert kept.session_dates.equals(stats.session_dates)

    written = []
    streamed = in_blocks(sink=lambda first, frame: written.append((first, frame)))
    assert streamed.result.evaluations is None
    assert_same_result(streamed.result, whole)
    assert [first for first, _ in written] == list(range(0, grid.height, block_rows))
    rows = pl.concat([frame for _, frame in written]).sort("fold", "combination")
    assert_frame_equal(rows, whole.evaluations, check_exact=True)


def test_tied_scores_pick_the_lowest_grid_row_across_blocks():
    """The never-triggering rows tie at score 0 with each other; with every other row scoring
    below 0 the pick must be the first of them, whichever block holds it."""
    folds = walk_forward_folds(6, 3, 1, None, False)
    # Combination c's per-session profit: -1 except the tied rows 3, 4 and 7 (0 every session).
    profits = np.full((9, 6), -1.0)
    profits[[3, 4, 7]] = 0.0
    profits[8] = np.nan  # a NaN score counts as the maximum, like numpy.argmax

    def block_of(rows):
        def aggregate(indices):
            total = profits[rows][:, indices].sum(axis=1)
            return pl.DataFrame(
                {
                    "total_profit": total,
                    "max_drawdown": np.zeros(len(rows)),
                    "win_rate_percent": np.full(len(rows), 50.0),
                }
            )

        return aggregate, lambda combination: profits[rows[combination]]

    def run(bounds):
        selection = FoldSelection(folds, 6)
        for lo, hi in bounds:
            selection.add_block(*block_of(np.arange(lo, hi)))
        return selection.result()

    whole = evaluate_folds(folds, 6, *block_of(np.arange(8)))
    assert whole.chosen["combination"].to_list() == [3] * len(folds)
    for bounds in (
        [(0, 3), (3, 8)],
        [(0, 4), (4, 5), (5, 8)],
        [(0, 1)] + [(i, i + 1) for i in range(1, 8)],
    ):
        assert_same_result(run(bounds), whole)
    with_nan = evaluate_folds(folds, 6, *block_of(np.arange(9)))
    assert with_nan.full_window_choice == 8
    assert_same_result(run([(0, 5), (5, 9)]), with_nan)
    assert_same_result(run([(0, 8), (8, 9)]), with_nan)
    profits[6] = np.nan  # two NaN scores: the first one stays the pick
    first_nan = evaluate_folds(folds, 6, *block_of(np.arange(9)))
    assert first_nan.full_window_choice == 6
    assert_same_result(run([(0, 7), (7, 9)]), first_nan)


def test_blocks_must_be_consecutive_and_at_least_one():
    folds = walk_forward_folds(4, 2, 1, None, False)
    selection = FoldSelection(folds, 4)
    with pytest.raises(ValueError, match="no block was added"):
        selection.result()
    with pytest.raises(ValueError, match="expected one starting at grid row 0, got 5"):
        selection.add_block(lambda i: pl.DataFrame(), lambda c: np.zeros(4), offset=5)


@pytest.mark.parametrize("block_rows", [1, 7, 72, 1000])
def test_engine_blocks_equal_one_session_stats_call(block_rows):
    rng = np.random.default_rng(5)
    series, table = frames(random_sessions(rng, count=6, ticks=80, with_iv=0.7))
    grid = small_grid("expected_move")
    costs = engine.Costs(0.002, 0.01, "dollars")
    whole = engine.session_stats(series, table, grid, costs=costs, distance_unit="expected_move")
    starts = []
    for start, block in engine.session_stats_blocks(
        series, table, grid, block_rows, costs=costs, distance_unit="expected_move"
    ):
        starts.append(start)
        assert block.grid.equals(grid.slice(start, block_rows))
        assert block.session_dates.equals(whole.session_dates)
        for name in STAT_ARRAYS:
            np.testing.assert_array_equal(
                getattr(block, name), getattr(whole, name)[start : start + block_rows], name
            )
    assert starts == list(range(0, grid.height, block_rows))
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValueError, match="rows_per_block must be an integer >= 1"):
            next(engine.session_stats_blocks(series, table, grid, bad))
    with pytest.raises(ValueError, match="grid is empty"):
        next(engine.session_stats_blocks(series, table, grid.head(0), 5))


def test_block_size_follows_the_budget_and_the_only_limit_left_names_sizes():
    # Per parameter set: 63 sessions x 80 bytes of statistics + 2 x 6 folds x 256 bytes of rows.
    assert engine.SESSION_STATS_BYTES_PER_CELL == 80
    per_row = 63 * 80 + 2 * 6 * 256
    assert runner.block_bytes_per_row(63, 6) == per_row == 8_112
    assert runner.rows_per_block(63, 6, budget=per_row * 1_000) == 1_000
    assert runner.rows_per_block(63, 6, budget=per_row - 1) == 1
    assert runner.rows_per_block(63, 6) == 256 * 2**20 // per_row
    # 5 M rows: one block of 33,091 rows + 80 bytes per grid row, whatever the grid's size.
    block = 256 * 2**20 // per_row
    assert runner.validation_memory_bytes(5_000_000, 63, 6) == block * per_row + 400_000_000
    assert runner.validation_memory_bytes(1_000, 63, 6) == 1_000 * (per_row + 80)
    needed = runner.check_block_memory(1_000, 63, 6, available=10**9)
    assert needed == 1_000 * (per_row + 80)
    with pytest.raises(runner.ValidationMemoryError, match="one block of 1,000 parameter sets"):
        runner.check_block_memory(1_000, 63, 6, available=needed - 1)
