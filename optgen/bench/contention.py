"""``optgen bench --contention``: the steps timed beside another busy, multi-threaded process.

A training loop's cores are rarely idle: data loaders, the forward and backward
pass, other jobs on a shared machine. A parallel region then waits for cores that
are busy, and an optimizer that wins on an idle machine can lose there (the
torch issue measured a 100k-parameter Adam step at 11.7 ms under load against
0.23 ms idle, before the serial path for small work, ``runtime/cpu.SERIAL_BELOW``).
This module starts such a neighbour for the length of a benchmark: a process that
multiplies matrices in a loop with BLAS on every core, as a forward pass would.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys

#: The neighbour: float64 matrix products on every core, until it is stopped.
_LOOP = """
import sys
import numpy as np
a = np.full((384, 384), 1.0 / 384)
c = np.empty_like(a)
print("ready", flush=True)
while True:
    np.matmul(a, a, out=c)
"""


def describe(threads: int) -> str:
    return f"beside a process multiplying matrices on {threads} BLAS threads"


@contextlib.contextmanager
def contention(enabled: bool = True, threads: int | None = None):
    """While the block runs, a neighbour process keeps ``threads`` cores (default: all) busy.
    Yields its description (``None`` when not ``enabled``); the neighbour is stopped on exit."""
    if not enabled:
        yield None
        return
    threads = threads or os.cpu_count() or 1
    env = {**os.environ, **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}}
    proc = subprocess.Popen([sys.executable, "-c", _LOOP], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("optgen bench --contention: the neighbour process did not start")
        yield describe(threads)
    finally:
        proc.kill()
        proc.wait()


__all__ = ["contention", "describe"]
