"""The leaderboard's pictures really show in the Dagster UI: a real web server on a loopback
port with a temporary DAGSTER_HOME, headless Chromium opening the asset page, clicking the
picture's metadata entry, and a screenshot checked for the plot's own pixels."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pytest
from matplotlib import image as mpimg

from orb_pipeline.core.cache_store import CacheStore
from orb_pipeline.partitions import TICKERS_PARTITIONS_NAME
from orb_pipeline_tests.results.browser import CHROMIUM, Browser, wait_for_http
from orb_pipeline_tests.services import free_port
from orb_pipeline_tests.staging.window_data import make_window, write_cached_window
from orb_pipeline_tests.sweeps.chain import SMALL_GRID, Chain

REPOSITORY = Path(__file__).resolve().parents[2]


def _region(png: bytes, box: dict) -> np.ndarray:
    pixels = (mpimg.imread(io.BytesIO(png), format="png")[..., :3] * 255).round().astype(int)
    top, left = int(box["top"]), int(box["left"])
    return pixels[top : top + int(box["height"]), left : left + int(box["width"])]


CURVE_COLOURS = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44]])  # matplotlib's first 3


def equity_visible(png: bytes, box: dict) -> bool:
    """The top curves' colours: in the 640-pixel inline thumbnail each curve is an anti-aliased
    line of about one pixel (overlapping curves hide each other), a few hundred pixels near
    those colours together; none without the picture."""
    region = _region(png, box)
    near = (np.abs(region[:, :, None, :] - CURVE_COLOURS).sum(axis=3) <= 60).any(axis=2)
    return int(near.sum()) > 150


def heatmap_visible(png: bytes, box: dict) -> bool:
    """Saturated (red/yellow/green) cells cover most of the heatmap; the page is grey and white."""
    region = _region(png, box)
    saturated = (region.max(axis=2) - region.min(axis=2)) > 80
    return float(saturated.mean()) > 0.3


PICTURES = {"equity_curves": equity_visible, "parameter_heatmap": heatmap_visible}


def table_fits(browser: Browser, key: str) -> dict:
    """Whether the table of metadata entry ``key`` fits the asset page's panel: with nothing
    scrolled sideways, the text of every header and cell lies inside every ancestor that clips or
    scrolls horizontally (Dagster's own layout lets the table's border overhang by a few pixels).
    Scrolls the table vertically into view (for the screenshot)."""
    browser.wait_for(f"document.body.innerText.includes('{key}')")
    return json.loads(
        browser.evaluate(f"""JSON.stringify((() => {{
        const row = [...document.querySelectorAll('tr')].find(r => r.querySelector('table')
            && r.innerText.trim().split(/\\s/)[0] === '{key}');
        const table = row.querySelector('table');
        table.scrollIntoView({{block: 'center', inline: 'nearest'}});
        const clipping = [];
        for (let e = table.parentElement; e && e !== document.body; e = e.parentElement) {{
            e.scrollLeft = 0;
            if (getComputedStyle(e).overflowX !== 'visible') clipping.push(e);
        }}
        const texts = [...table.querySelectorAll('th, td')].map(cell => {{
            const range = document.createRange(); range.selectNodeContents(cell);
            return [cell.innerText.trim(), range.getBoundingClientRect()]; }});
        const cut = [];
        for (const e of clipping) {{
            const r = e.getBoundingClientRect();
            for (const [text, box] of texts) {{
                if (box.width && (box.right > r.right + 1 || box.left < r.left - 1))
                    cut.push(text + ' ends at ' + Math.round(box.right) + ' > '
                             + Math.round(r.right));
            }}
        }}
        const headers = [...table.querySelectorAll('th')].map(h => h.innerText.trim());
        return {{fits: cut.length === 0 && clipping.length > 0 && texts.length > 0,
                 cut: cut.slice(0, 10), headers, clipping: clipping.length}};
    }})())""")
    )


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nnux:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_leaderboard_pictures_show_on_the_asset_page(tmp_path, dagster_home):
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test.sh "
            "does when it runs as root); this test never skips"
        )
    series, sessions = make_window(n_sessions=20, ticks_per_session=300, start=dt.date(2025, 1, 2))
    write_cached_window(CacheStore(url=str(tmp_path / "cache")), "SPY", series, sessions)
    spec = {
        "ticker": "SPY",
        "grid": SMALL_GRID,
        "cache_dir": str(tmp_path / "cache"),
        "staging_dir": str(tmp_path / "staging"),
        "sqlite_path": str(tmp_path / "r.sqlite"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    chain = Chain(spec)
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(TICKERS_PARTITIONS_NAME, ["SPY"])
    chain.stage(instance)
    for chunk in chain.settings.chunk_keys():
        chain.sweep(instance, chunk)
    chain.leaderboard(instance, top=5, plotted=3)

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster_webserver",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-m",
            "orb_pipeline_tests.results.screenshot_defs",
        ],
        cwd=REPOSITORY,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "ORB_SCREENSHOT_SPEC": str(tmp_path / "spec.json")},
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", timeout=120)
        with Browser(width=1600, height=1200) as browser:
            browser.open(f"http://127.0.0.1:{port}/assets/leaderboard?partition=SPY")
            # The narrow table shows every column inside the metadata panel (a wide table there
            # widens the panel's value column for every entry: the detail table is Markdown).
            fits = table_fits(browser, "top_backtests")
            png = browser.screenshot(tmp_path / "top_backtests.png")
            if os.environ.get("ORB_SCREENSHOT_DIR"):
                shutil.copy(tmp_path / "top_backtests.png", os.environ["ORB_SCREENSHOT_DIR"])
            assert fits["fits"], fits
            assert fits["headers"] == ["#", "deflated", "Sharpe", "profit $/sh", "win days %",
                                       "win trades %", "parameters"]  # fmt: skip
            # the check sees a table that does not fit (as the old 14-column table did not)
            browser.evaluate(
                "[...document.querySelectorAll('tr')].find(r => r.querySelector('table') && "
                "r.innerText.trim().startsWith('top_backtests')).querySelector('table')"
                ".style.minWidth = '1400px'"
            )
            assert not table_fits(browser, "top_backtests")["fits"]
            browser.open(f"http://127.0.0.1:{port}/assets/leaderboard?partition=SPY")
            for key, visible in PICTURES.items():
                browser.wait_for(f"document.body.innerText.includes('{key}')")
                browser.evaluate(f"""(() => {{
                    const row = [...document.querySelectorAll('tr')]
                        .find(r => r.innerText.trim().startsWith('{key}'));
                    [...row.querySelectorAll('a, button')]
                        .find(e => e.innerText.includes('Show Markdown')).click();
                }})()""")
                shown = (
                    "[...document.querySelectorAll('[role=dialog] img')].find(i => "
                    "i.src.startsWith('data:image/png') && i.complete && i.naturalWidth > 0)"
                )
                browser.wait_for(shown)
                box = browser.evaluate(
                    "JSON.parse(JSON.stringify(" + shown + ".getBoundingClientRect()))"
                )
                # The dialog fades in: screenshot until the picture is solid (or give up).
                for _ in range(20):
                    browser.wait_for(
                        "document.getAnimations().every(a => a.playState != 'running')"
                    )
                    png = browser.screenshot(tmp_path / (key + ".png"))
                    if visible(png, box):
                        break
                    time.sleep(0.5)
                if os.environ.get("ORB_SCREENSHOT_DIR"):
                    shutil.copy(tmp_path / (key + ".png"), os.environ["ORB_SCREENSHOT_DIR"])
                assert box["width"] > 400 and box["height"] > 200, box
                assert visible(png, box), key + " not visible in the screenshot"
                browser.evaluate(
                    "[...document.querySelectorAll('[role=dialog] button')]"
                    ".find(b => b.innerText.trim() == 'Close').click()"
                )
                browser.wait_for("!document.querySelector('[role=dialog] img')")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        server.stderr.close()
