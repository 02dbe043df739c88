"""The benchmark runs end to end in --quick mode and reports identical results (no timing
assertions: speed is measured by running the benchmark, figures in docs/PERFORMANCE.md)."""

from __future__ import annotations

import subprocess
import sys

from orb_pipeline.engine import bench


def test_quick_benchmark_runs_and_agrees_with_the_naive_kernel(capsys):
    assert bench.main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "identical results: True" in out
    assert "backtests/s" in out and "fresh process" in out and "peak RSS" in out


def test_the_engine_does_not_import_the_benchmark_or_its_naive_kernels():
    probe = (
        "import sys, orb_pipeline.engine; "
        "print(sorted(m for m in sys.modules if m.startswith('orb_pipeline.engine.bench')))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"
