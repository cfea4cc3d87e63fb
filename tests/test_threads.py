"""Threads: optimizers in several threads, under every Numba threading layer.

Numba's ``workqueue`` layer (its fallback when neither OpenMP nor TBB is installed)
terminates the process when two threads launch parallel kernels at once; the CPU
runtime serialises launches under it. One optimizer entered from two threads at
once is refused with ``ConcurrentStepError``. docs/threads.md.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import optgen
from optgen.runtime.threads import ConcurrentStepError

ROOT = Path(__file__).resolve().parents[1]

# Two SGD optimizers, each stepped 200 times with gradient 1 in its own thread, sizes
# large enough for several chunks: w ends at w0 - 200 * lr exactly (lr = 2**-4).
_TWO_THREADS = r"""
import json, threading
import numba, numpy as np, optgen
def work(k, out):
    p = [np.full(300_000, float(k), np.float64), np.full(70_001, float(k), np.float32)]
    opt = optgen.create("sgd", p, lr=0.0625)
    for _ in range(200):
        opt.step([np.ones_like(x) for x in p])
    out[k] = [sorted({float(v) for v in x}) for x in p]
out = {}
threads = [threading.Thread(target=work, args=(k, out)) for k in range(2)]
for th in threads:
    th.start()
for th in threads:
    th.join()
print(json.dumps({"layer": numba.threading_layer(), "out": {str(k): v for k, v in out.items()}}))
"""


@pytest.mark.parametrize("layer", ["workqueue", "default"])
def test_two_optimizers_in_two_threads(layer):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer != "default":
        env["NUMBA_THREADING_LAYER"] = layer
    env.setdefault("NUMBA_NUM_THREADS", "2")
    run = subprocess.run([sys.executable, "-c", _TWO_THREADS], capture_output=True, text=True, env=env,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    res = json.loads(run.stdout.strip().splitlines()[-1])
    if layer != "default":
        assert res["layer"] == layer
    for k in range(2):
        assert res["out"][str(k)] == [[k - 12.5], [k - 12.5]]  # 200 steps of lr 1/16


def test_same_optimizer_from_two_threads_is_refused(one_thread):
    params = [np.zeros(5)]
    opt = optgen.create("sgd", params, lr=0.5)
    entered, release = threading.Event(), threading.Event()
    host_stage = opt._host_stage

    def slow_host_stage(t):  # holds the first step inside the optimizer until released
        entered.set()
        release.wait(60)
        return host_stage(t)

    opt._host_stage = slow_host_stage
    first = threading.Thread(target=opt.step, args=([np.ones(5)],), name="trainer")
    first.start()
    try:
        assert entered.wait(60)
        with pytest.raises(ConcurrentStepError, match=r"step\(\) called from thread 'MainThread' while thread "
                                                      r"'trainer' is inside step\(\)"):
            opt.step([np.full(5, 100.0)])
        with pytest.raises(ConcurrentStepError, match=r"load_state_dict\(\)"):
            opt.load_state_dict(opt.state_dict())
    finally:
        release.set()
        first.join()
    opt._host_stage = host_stage
    np.testing.assert_array_equal(params[0], np.full(5, -0.5))  # the first step only
    assert opt.t == 1
    opt.step([np.ones(5)])  # the guard is free again
    np.testing.assert_array_equal(params[0], np.full(5, -1.0))
