"""``optgen bench --device cuda``: optgen's CUDA kernels against the copy floor and torch.

On a GPU everything runs in one process (one device, no thread pools to fight):
for each optimizer, a same-traffic streaming kernel (reads and writes as many
arrays as the optimizer's passes do, so its time is the bandwidth floor), the
optgen step, and — where torch with CUDA is installed and the optimizer is Adam —
``torch.optim.Adam(fused=True)`` on tensors of the same shapes. Times are CUDA
event medians over ``rounds`` steps after ``warmup`` steps; the report gives
GB/s (bytes the step must move / time) and the ratios.
"""
from __future__ import annotations

import statistics
from typing import Callable

import numpy as np

from .models import model_shapes, numel
from .runner import traffic

_COPY_SOURCE = '''
def copy_kernel({ins}, {outs}):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, {first}.size, stride):
        acc = {sum}
{stores}
'''


def copy_kernel(cuda, n_loads: int, n_stores: int):
    """A grid-stride kernel that reads ``n_loads`` arrays and writes ``n_stores``: the floor."""
    ins = [f"x{i}" for i in range(n_loads)]
    outs = [f"y{j}" for j in range(n_stores)]
    src = _COPY_SOURCE.format(ins=", ".join(ins), outs=", ".join(outs), first=ins[0],
                              sum=" + ".join(f"{x}[i]" for x in ins),
                              stores="\n".join(f"        {y}[i] = acc" for y in outs))
    ns: dict = {"cuda": cuda}
    exec(src, ns)  # the kernel's shape depends on the traffic: built from text, once per run
    return cuda.jit(ns["copy_kernel"])


def _time(cuda, step: Callable[[], None], warmup: int, rounds: int) -> float:
    """Median seconds of one call, by CUDA events around each call."""
    for _ in range(warmup):
        step()
    cuda.synchronize()
    times = []
    for _ in range(rounds):
        start, stop = cuda.event(), cuda.event()
        start.record()
        step()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) / 1e3)  # milliseconds
    return statistics.median(times)


def _torch_fused_adam(shapes, hypers: dict):
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    params = [torch.randn(s, device="cuda") for s in shapes]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    opt = torch.optim.Adam(params, lr=hypers.get("lr", 1e-3), fused=True)
    return opt.step


def bench_cuda(names, *, size: int | None = None, model: str | None = None, warmup: int = 5,
               rounds: int = 50, progress=None) -> dict:
    """Run the CUDA benchmark; returns ``{"device": ..., "results": [...]}``."""
    from numba import cuda

    import optgen

    from ..runtime.cuda_support import require_cuda
    require_cuda("optgen bench --device cuda")
    shapes = model_shapes(model, size)
    n = numel(shapes)
    rng = np.random.default_rng(0)
    device = cuda.get_current_device()
    results = []
    for i, name in enumerate(names):
        if progress:
            progress(i, len(names), name)
        params = [cuda.to_device(rng.standard_normal(s).astype(np.float32)) for s in shapes]
        grads = [cuda.to_device((1e-3 * rng.standard_normal(s)).astype(np.float32)) for s in shapes]
        opt = optgen.create(name, params, device="cuda")
        step_bytes = opt.bytes_per_step()
        t_opt = _time(cuda, lambda: opt.step(grads), warmup, rounds)
        passes = traffic(name, {}, "float32")["passes"]  # the copy reads and writes what the step does
        n_loads = max(1, sum(len(p["loads"]) for p in passes))
        n_stores = max(1, sum(len(p["stores"]) for p in passes))
        flat_in = [cuda.device_array(n, np.float32) for _ in range(n_loads)]
        flat_out = [cuda.device_array(n, np.float32) for _ in range(n_stores)]
        kernel = copy_kernel(cuda, n_loads, n_stores)
        sms = getattr(device, "MULTIPROCESSOR_COUNT", 1)  # the simulator has no such attribute
        blocks = min(sms * 32, (n + 255) // 256)
        t_copy = _time(cuda, lambda: kernel[blocks, 256](*flat_in, *flat_out), warmup, rounds)
        row = {"optimizer": name, "elements": n, "tensors": len(shapes), "bytes_per_step": step_bytes,
               "optgen_s": t_opt, "optgen_GBps": step_bytes / t_opt / 1e9,
               "copy_s": t_copy, "copy_GBps": (n_loads + n_stores) * 4 * n / t_copy / 1e9,
               "vs_copy": t_copy / t_opt * (step_bytes / ((n_loads + n_stores) * 4 * n))}
        torch_step = _torch_fused_adam(shapes, {}) if name == "adam" else None
        if torch_step is not None:
            import torch
            t_torch = _time(cuda, lambda: torch_step(), warmup, rounds)
            torch.cuda.synchronize()
            row.update(torch_fused_s=t_torch, vs_torch_fused=t_torch / t_opt)
        results.append(row)
    label = getattr(device, "name", "CUDA simulator")
    return {"device": label.decode() if isinstance(label, bytes) else str(label),
            "shapes": model or f"one tensor of {n}", "results": results}


def format_cuda_table(res: dict) -> str:
    lines = [f"device: {res['device']}; {res['shapes']}",
             f"{'optimizer':12} {'optgen ms':>10} {'GB/s':>8} {'copy GB/s':>10} {'vs copy':>8} {'vs torch fused':>15}"]
    for r in res["results"]:
        vs_torch = f"{r['vs_torch_fused']:.2f}x" if "vs_torch_fused" in r else "-"
        lines.append(f"{r['optimizer']:12} {r['optgen_s'] * 1e3:10.3f} {r['optgen_GBps']:8.0f} "
                     f"{r['copy_GBps']:10.0f} {r['vs_copy']:7.2f}x {vs_torch:>15}")
    return "\n".join(lines)
