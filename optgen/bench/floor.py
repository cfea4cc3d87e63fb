"""The bandwidth floor a benchmark compares with: the bytes of a spec's passes, and nothing else.

``setup_stream(cfg)`` runs one streaming kernel per pass of the spec (``cfg["traffic"]``, from
``runner.traffic``), each reading and writing exactly the arrays that pass loads and stores, and,
for a spec with matrix steps, the Newton–Schulz matmuls alone between them: the floor of the
spec's own pass structure (docs/performance.md, "How `optgen bench` measures").
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np


def seeded_rng(cfg):
    """The benchmark's random numbers, from ``cfg["seed"]`` (0): every implementation draws the same."""
    return np.random.default_rng(cfg.get("seed", 0))


_STREAM_SRC = '''
def make(numba, np):
    @numba.njit(parallel=True, fastmath={{"reassoc", "nsz", "contract"}})
    def kernel({args}):
        acc = {zero}
        for i in numba.prange({first}.shape[0]):
            s = {load_sum}
{stores}
            acc += s
        return acc
    return kernel
'''


def stream_kernel(n_loads: int, n_inplace: int, n_write_only: int, dtype: str):
    """A ``prange`` kernel that reads ``n_loads`` arrays, writes ``n_inplace`` of them
    back and writes ``n_write_only`` more: nothing but the traffic."""
    import numba
    loads = [f"a{j}" for j in range(n_loads)]
    outs = [f"o{j}" for j in range(n_write_only)]
    cast = f"np.{dtype}"
    zero = f"{cast}(0.0)"
    load_sum = " + ".join(f"{a}[i]" for a in loads) or zero
    scale = f"{cast}({1.0 / max(n_loads, 1)!r})"
    stores = "\n".join(f"            {a}[i] = s * {scale}" for a in [*loads[:n_inplace], *outs])
    src = _STREAM_SRC.format(args=", ".join([*loads, *outs]), zero=zero, first=(loads or outs)[0],
                             load_sum=load_sum, stores=stores or "            pass")
    ns: dict = {}
    exec(compile(src, f"<optgen stream kernel {n_loads}/{n_inplace}/{n_write_only}>", "exec"), ns)
    return ns["make"](numba, np)


def newton_schulz_matmuls(shapes, steps: int, dtype, rng) -> Callable[[], None]:
    """The matmuls of ``steps`` Newton–Schulz iterations on each matrix, alone: X X^T, A A and
    B X per iteration through numpy (BLAS) into buffers made once, without the elementwise
    work between them. Muon's floor is these plus the streaming kernels of its passes."""
    from ..matrix import matrix_shape
    mats = []
    for shape in shapes:
        r, c = sorted(matrix_shape(shape))  # the iteration runs on the wide side, as torch's
        x = rng.standard_normal((r, c)).astype(dtype)
        mats.append((x, np.empty((r, r), dtype), np.empty((r, r), dtype), np.empty((r, c), dtype)))

    def run():
        for x, a, b, y in mats:
            for _ in range(steps):
                np.matmul(x, x.T, out=a)
                np.matmul(a, a, out=b)
                np.matmul(b, x, out=y)
    return run


def setup_stream(cfg) -> Callable[[], None]:
    """Flat buffers of the total size; one streaming kernel per pass of the spec, and the
    matmuls of the matrix steps after a pass (:func:`newton_schulz_matmuls`)."""
    n = sum(math.prod(s) for s in cfg["shapes"])
    dt = np.dtype(cfg["dtype"])
    rng = seeded_rng(cfg)
    buffers: dict = {}

    def buf(name):
        if name not in buffers:
            buffers[name] = rng.standard_normal(n, dtype=dt)
        return buffers[name]

    calls = []
    for p in cfg["traffic"]["passes"]:
        loads, stores = p["loads"], p["stores"]
        if loads or stores:  # else a pass over reduced-shape states only (Adafactor's rows, columns)
            inplace = [a for a in loads if a in stores]
            ordered = inplace + [a for a in loads if a not in stores]
            write_only = [a for a in stores if a not in loads]
            k = stream_kernel(len(loads), len(inplace), len(write_only), dt.name)
            calls.append((k, [buf(a) for a in ordered + write_only]))
        for steps in p.get("matrix_steps", ()):
            calls.append((newton_schulz_matmuls(cfg["shapes"], steps, dt, rng), []))

    def step():
        for k, arrays in calls:
            k(*arrays)
    return step
