"""The research report: one self-contained HTML page per ticker and window, written through the
cache store by ``research_report``, rendered by headless Chromium with the network off."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import shutil

import dagster as dg
import pytest
import sqlalchemy as sa
from matplotlib import image as mpimg
from plotly.offline import get_plotlyjs

from orb_pipeline.reports.assets import research_report
from orb_pipeline.reports.content import ReportContent
from orb_pipeline.reports.html import html_table, render
from orb_pipeline.results import schema as results_schema
from orb_pipeline.results.leaderboard import report_path
from orb_pipeline.validation.assets import build_walk_forward, monte_carlo
from orb_pipeline_tests.results.browser import CHROMIUM, Browser
from orb_pipeline_tests.sweeps.chain import FIRST, LAST, SMALL_GRID, Chain, write_window

TICKER = "SPY"


def small_content(**changes) -> ReportContent:
    sessions = ["2025-01-02", "2025-01-03", "2025-01-06"]
    row = {"rank": 1, "backtest_id": "a" * 32, "sharpe": 5.792503839959541,
           "backtest_profit": 10.930000000000003, "max_drawdown": 1.0, "trades": 3,
           "win_rate_percent": 66.66666666666667, "trade_win_rate_percent": 33.333333333333336,
           "average_holding_period": 75.0, "range_seconds": 30, "stop_distance": 0.4,
           "limit_distance": 1.0, "stop_count_limit": 3, "stop_cooloff_period": 270,
           "parameters": "30 s range </script><b>"}  # fmt: skip
    fields = dict(
        ticker=TICKER, window_start=dt.date(2025, 1, 2), window_end=dt.date(2025, 1, 6),
        data_version="d" * 64, leaderboard=[row], sessions=sessions,
        underlying_percent=[0.0, -1.5, 2.0], curves={"#1 stop $0.40": [1.0, 0.5, 10.93]},
        curve_note="the best 1 by Sharpe",
        grid={"range_seconds": [30], "stop_distance": [0.4], "stop_count_limit": [3],
              "stop_cooloff_period": [270], "limit_distance": [1.0], "sharpe": [5.79],
              "backtest_profit": [10.93], "max_drawdown": [1.0], "win_rate_percent": [66.7],
              "trades": [3]},
        grid_note="all 1 backtests of the window", trades={"a" * 32: []},
        verdict="VERDICT: the winner does NOT hold up: it lost.", holds_up=False,
    )  # fmt: skip
    return ReportContent(**{**fields, **changes})


def test_the_page_is_self_contained_and_escapes_what_it_shows():
    page = render(small_content())
    assert get_plotlyjs() in page  # plotly inlined, not fetched
    rest = page.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", rest), "an external resource"
    assert "@import" not in rest and "url(" not in rest
    # the data island cannot end its own <script> element early, the table escapes HTML
    data = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', rest, re.S)
    assert json.loads(data.group(1))["leaderboard"][0]["parameters"] == "30 s range </script><b>"
    assert "30 s range &lt;/script&gt;&lt;b&gt;" in rest
    assert 'class="verdict bad"' in rest and "does NOT hold up" in rest
    assert "Walk-forward validation has not run for this window." in rest
    good = render(small_content(holds_up=True)).replace(get_plotlyjs(), "")
    assert 'class="verdict good"' in good


def test_tables_show_labels_and_rounded_values():
    table = html_table(
        small_content().leaderboard,
        ["rank", "sharpe", "win_rate_percent", "trade_win_rate_percent"],
    )
    assert '<th title="position on the leaderboard, 1 = best">#</th>' in table
    assert ">winning days %</th>" in table and ">winning trades %</th>" in table
    assert "<td>5.79</td><td>66.7</td><td>33.3</td>" in table


def _saturated_share(png: bytes, box: dict) -> float:
    pixels = (mpimg.imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(int)
    top, left = int(box["top"]), int(box["left"])
    region = pixels[top : top + int(box["height"]), left : left + int(box["width"])]
    return float(((region.max(axis=2) - region.min(axis=2)) > 80).mean())


def test_report_renders_offline_with_its_charts(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package; never skipped")
    write_window(tmp_path / "cache", TICKER)
    chain = Chain({"ticker": TICKER, "grid": SMALL_GRID, "cache_dir": str(tmp_path / "cache"),
                   "staging_dir": str(tmp_path / "staging"),
                   "sqlite_path": str(tmp_path / "r.sqlite")})  # fmt: skip
    instance = chain.instance()
    chain.stage(instance)
    for chunk in chain.settings.chunk_keys():
        chain.sweep(instance, chunk)
    chain.leaderboard(instance, top=4, plotted=3)
    walk = {"train_sessions": 8, "test_sessions": 4}
    dg.materialize(
        [build_walk_forward(chain.settings.grid()), monte_carlo],
        instance=instance, resources=chain.resources(), partition_key=TICKER,
        run_config={"ops": {"walk_forward": {"config": walk},
                            "monte_carlo": {"config": {"top": 4, "samples": 200}}}},
    )  # fmt: skip
    result = dg.materialize(
        [research_report], instance=instance, resources=chain.resources(), partition_key=TICKER,
        run_config={"ops": {"research_report": {"config": {"top": 4, "plotted": 3}}}},
    )  # fmt: skip
    metadata = result.asset_materializations_for_node("research_report")[0].metadata
    first, last = dt.date.fromisoformat(FIRST), dt.date.fromisoformat(LAST)
    page = tmp_path / "cache" / report_path(TICKER, first, last)
    assert metadata["research_report"].value == str(page.resolve())
    assert metadata["holds_up"].value in {"yes", "no"}  # validated: a verdict either way
    # the leaderboard links the same file
    board = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("leaderboard")), limit=1
    ).records[0]
    assert board.asset_materialization.metadata["research_report"].value == str(page.resolve())
    best = chain.resources()["results"].read(
        sa.select(results_schema.trades.c.backtest_id).where(
            results_schema.trades.c.backtest_id == board.asset_materialization.metadata[
                "best_backtest_id"].value)
    )  # fmt: skip
    assert best.height > 0

    with Browser(width=1400, height=4200) as browser:
        browser.call("Network.enable")
        browser.call("Network.emulateNetworkConditions", offline=True, latency=0,
                     downloadThroughput=-1, uploadThroughput=-1)  # fmt: skip
        browser.open(page.as_uri())
        browser.wait_for("document.body && document.body.dataset.rendered === 'yes'", 120)
        found = json.loads(
            browser.evaluate("""JSON.stringify({
            charts: [...document.querySelectorAll('.js-plotly-plot')].map((e) => e.id),
            equity: document.querySelectorAll('#equity-chart .scatterlayer .trace').length,
            oos: document.querySelectorAll('#oos-chart .scatterlayer .trace').length,
            heatmap: document.querySelectorAll('#heatmap-chart .hm image').length,
            trades: document.querySelectorAll('#trade-table tbody tr').length,
            folds: document.querySelectorAll('#walk-forward table tbody tr').length,
            loaded: performance.getEntriesByType('resource').map((e) => e.name),
            ticks: [...document.querySelectorAll('#heatmap-chart .xtick text')].map((t) => t.textContent),
            box: document.getElementById('heatmap-chart').getBoundingClientRect().toJSON()})""")
        )
        assert found["charts"] == ["equity-chart", "oos-chart", "heatmap-chart"]
        # each curve and its drawdown, and the underlying; two out-of-sample lines; one heatmap
        assert found["equity"] >= 3 and found["equity"] % 2 == 1
        assert found["oos"] == 2 and found["heatmap"] == 1
        assert found["trades"] == best.height and found["folds"] == 3
        assert found["loaded"] == []  # nothing fetched: not even from the local disk
        assert found["ticks"] == ["0.1", "0.2", "0.5"]  # limit distances of SMALL_GRID
        shot = browser.screenshot(tmp_path / "report.png")
        assert _saturated_share(shot, found["box"]) > 0.3, "heatmap cells not visible"
        # explore: cooloff on x instead of the limit distance
        browser.evaluate("""(() => { const x = document.getElementById('hx');
            x.value = 'stop_cooloff_period'; x.dispatchEvent(new Event('change')); })()""")
        browser.wait_for(
            "[...document.querySelectorAll('#heatmap-chart .xtick text')]"
            ".map((t) => t.textContent).join() === '0,60'"
        )
        if os.environ.get("ORB_SCREENSHOT_DIR"):
            shutil.copy(tmp_path / "report.png", os.environ["ORB_SCREENSHOT_DIR"])
