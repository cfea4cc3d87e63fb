"""The test harness itself: what one test sets must not reach the next.

CI runs the suite under pytest-xdist, so any test may follow any other in a worker. A setting
that is process-wide (JAX's float64 switch) has to be set per test, by ``tests/conftest.py``.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

LEAKING_MODULE = '''
import jax
import numpy as np

jax.config.update("jax_enable_x64", True)  # once, at import: what the suite did before


def test_a_float32_case_turns_float64_off():
    jax.config.update("jax_enable_x64", False)


def test_the_next_float64_reference_runs_in_float64():
    assert jax.numpy.asarray(0.1).dtype == np.float64
'''


def test_a_float32_case_does_not_leave_jax_in_float32(tmp_path):
    """The order CI ran in: a float32 optax case, then a float64 one in the same process. Before
    the conftest set JAX's switch per test, the second ran optax in float32 (13 failures)."""
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_order.py").write_text(LEAKING_MODULE)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
                          "-p", "no:randomly", "test_order.py"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout
