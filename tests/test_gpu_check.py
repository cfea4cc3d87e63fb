"""``scripts/gpu_check.sh``: the prepared check for a machine with a GPU.

CI has no GPU, so what runs here is the script's own contract on such a machine:
it parses, says in its report that there is nothing to check, and exits 2 (not 0,
which would read as "checked and passed"), having run no test and no bench.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_check.sh"


def _has_gpu() -> bool:
    try:
        from numba import cuda
        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 - no numba-cuda: no GPU for optgen either
        return False


def test_the_script_parses():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU: the check would run for minutes (run it by hand)")
def test_without_a_gpu_it_reports_that_nothing_was_checked(tmp_path):
    report = tmp_path / "report.txt"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run(["bash", str(SCRIPT), str(report)], env={**env, "PYTHON": sys.executable},
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stdout + out.stderr
    text = report.read_text(encoding="utf-8")
    assert text.startswith("optgen GPU check, ") and "no CUDA GPU here: nothing was checked" in text
    assert "pytest" not in text and "optgen bench" not in text.split("== device")[1]


def test_its_steps_fit_in_eight_minutes_and_include_the_torch_cuda_trainings():
    """Each step runs under `timeout LIMIT`; their limits together stay under the 8 minutes the
    check promises, and the trainings of optgen.torch on torch CUDA tensors are one of them."""
    lines = [ln.split() for ln in SCRIPT.read_text(encoding="utf-8").splitlines() if ln.startswith("run ")]
    assert sum(int(ln[1]) for ln in lines) <= 8 * 60 - 20  # the device section's few seconds
    assert any("tests/test_torch_cuda.py" in ln for ln in lines)
