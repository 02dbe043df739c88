"""The benchmark runs end to end in --quick mode and reports identical results (no timing
assertions: speed is measured by running the benchmark, figures in docs/PERFORMANCE.md)."""

from __future__ import annotations

from orb_pipeline.engine import bench


def test_quick_benchmark_runs_and_agrees_with_the_naive_kernel(capsys):
    assert bench.main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "identical results: True" in out
    assert "backtests/s" in out and "fresh process" in out and "peak RSS" in out
