"""The benchmark runs end to end at tiny sizes (timings are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys


def test_bench_quick_runs():
    result = subprocess.run([sys.executable, "-m", "nnkit.bench", "--quick"], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "Conv2D" in result.stdout and "LSTM" in result.stdout and "GFLOP/s" in result.stdout
    assert "BLAS in this process:" in result.stdout and "kernel)" in result.stdout   # which kernel ran
