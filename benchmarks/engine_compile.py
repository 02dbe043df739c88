"""Benchmark: numba's cold compile of every runtime kernel, CPU seconds per engine entry point.

Run from the repository root with an empty cache, so that everything compiles:
``NUMBA_CACHE_DIR=$(mktemp -d) .venv/bin/python -m benchmarks.engine_compile``

Times (``time.process_time``) the first call of each entry point that
``orchestration/warmup.py`` compiles, then lists every kernel of the package with its number of
specializations (each one is a separate compile; one per kernel is the goal).
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    from numba.core.registry import CPUDispatcher

    from orb_pipeline import engine
    from orb_pipeline.orchestration.warmup import tiny_grid, tiny_window
    from orb_pipeline.results.ids import backtest_ids

    print(f"import: cpu {time.process_time() - started_cpu:.1f} s")
    series, sessions = tiny_window()
    grid = tiny_grid()
    first, last = sessions["session_date"].min(), sessions["session_date"].max()
    steps = [
        ("sweep", lambda: engine.sweep(series, sessions, grid)),
        ("session_stats", lambda: engine.session_stats(series, sessions, grid)),
        ("aggregate", lambda: engine.aggregate(engine.session_stats(series, sessions, grid))),
        ("ledger", lambda: engine.ledger(series, sessions, grid.row(0, named=True))),
        ("opening_ranges", lambda: engine.opening_ranges(series, sessions, 30)),
        ("compress_series", lambda: engine.compress_series(series.rename({"price": "close"}))),
        ("backtest_ids", lambda: backtest_ids(grid, "W", first, last, engine.ENGINE_VERSION)),
    ]
    for name, step in steps:
        started = time.process_time()
        step()
        print(f"{name}: cpu {time.process_time() - started:.1f} s")
    print(
        f"total: cpu {time.process_time() - started_cpu:.1f} s, "
        f"wall {time.perf_counter() - started_wall:.1f} s"
    )
    for module_name, module in sorted(sys.modules.items()):
        if not module_name.startswith("orb_pipeline"):
            continue
        for name, value in sorted(vars(module).items()):
            if isinstance(value, CPUDispatcher) and value.__module__ == module_name:
                if value.signatures:
                    print(f"  {module_name}.{name}: {len(value.signatures)} specialization(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
