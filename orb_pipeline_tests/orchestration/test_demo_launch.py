"""The demo's launch plumbing without running the demo: how data runs split across workers, and
numba's cache chosen before the engine loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from orb_pipeline.orchestration.demo import _split_blocks

REPO = Path(__file__).resolve().parents[2]


def test_split_blocks_hand_computed():
    assert _split_blocks([["A", "B", "C", "D", "E"]], 2) == [["A", "B", "C"], ["D", "E"]]
    assert _split_blocks([["A"], ["B", "C"]], 2) == [["A"], ["B"], ["C"]]
    assert _split_blocks([["A", "B", "C"]], 1) == [["A", "B", "C"]]
    assert _split_blocks([["A", "B"]], 4) == [["A"], ["B"]]


@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=4),
    st.integers(1, 5),
)
def test_split_blocks_keeps_order_and_balances(lengths, parts):
    names = iter(f"T{n}" for n in range(100))
    blocks = [[next(names) for _ in range(length)] for length in lengths]
    pieces = _split_blocks(blocks, parts)
    # Every ticker once, in order, and no piece crosses a block (a range tag spans each piece).
    assert [t for piece in pieces for t in piece] == [t for block in blocks for t in block]
    for block in blocks:
        mine = [piece for piece in pieces if piece[0] in block]
        assert all(set(piece) <= set(block) for piece in mine)
        assert len(mine) == min(parts, len(block))
        assert max(map(len, mine)) - min(map(len, mine)) <= 1


def test_demo_chooses_numba_cache_before_the_engine_loads(tmp_path):
    """The CLI imports the engine while it builds its parsers; the demo's kernels (and its
    background warm-up's) must still cache under the demo's data directory, not beside the
    sources, or the demo compiles every kernel twice."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORB_", "NUMBA_"))}
    env["ORB_DATA_DIR"] = str(tmp_path / "data")
    script = (
        "import sys\n"
        "from orb_pipeline import cli\n"
        "try:\n"
        "    cli.main(['demo', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "from numba.core import config\n"
        "assert 'orb_pipeline.engine' in sys.modules\n"
        "from orb_pipeline.engine import nb\n"
        "print(nb.sweep_trios_nb._cache._cache_path)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    cache_path = result.stdout.strip().splitlines()[-1]
    assert cache_path.startswith(str(tmp_path / "data" / ".numba_cache")), cache_path


def test_parallel_launcher_creates_the_pools_before_its_workers_claim_them(tmp_path):
    """Two runs claiming a new pool at once collide on PostgreSQL (unique key of the pool's limit
    row; a sweep run failed on the production services): the launcher creates every pool's limit
    row before any worker starts."""
    import shutil

    import dagster as dg

    from orb_pipeline.core.lineage import POOLS
    from orb_pipeline.orchestration.launch import InProcessLauncher

    shutil.copy(REPO / "dagster.yaml", tmp_path / "dagster.yaml")  # pools: default_limit 2
    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert not set(POOLS) & instance.event_log_storage.get_concurrency_keys()
        with InProcessLauncher(instance, workers=2):
            keys = instance.event_log_storage.get_concurrency_keys()
            assert set(POOLS) <= keys
            for pool in POOLS:
                assert instance.event_log_storage.get_concurrency_info(pool).slot_count == 2
    finally:
        instance.dispose()
