"""Paired timing: the implementations share one process and alternate step by step.

The per-process rounds of :func:`optgen.bench.runner.run_bench` are robust but
coarse: on a shared machine the memory bandwidth moves by 2× from one minute to
the next, so two implementations that both sit at the floor come out a few
percent apart in either order. Here every implementation (and every dtype) is
set up in **one** worker process, and a round takes one step of each, in an
order rotated from round to round. Step ``r`` of A and step ``r`` of B are
milliseconds apart and see the same bandwidth, so the ratio of the two is
taken **per round** and the figure is its median, with a 95% confidence
interval for that median (:func:`median_ci`).

Two thread pools in one process disturb each other only while their idle
threads spin. libgomp (torch's and Numba's OpenMP runtime) spins about 300,000
times before its threads sleep: up to a millisecond of a core taken from the
next implementation's step. The worker runs with ``GOMP_SPINCOUNT=1000``
(tens of microseconds): long enough that threads stay awake between the
parallel regions of one step (torch's fused Adam opens one per tensor, 148 per
GPT-2 step), short enough that they sleep before the other implementation's
step starts. ``OMP_WAIT_POLICY=passive`` would be the wrong fix: a wake-up per
region slows torch's fused Adam on GPT-2 by 12–78% (measured in a process of
its own: 49 → 58, 50 → 56, 33 → 59 ms; with 1000 spins it stays at 33).
XLA's thread pool has neither switch, so ``optax-jit`` is measured only by the
per-process rounds.
"""
from __future__ import annotations

import glob
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from .impls import ON_REQUEST
from .models import model_shapes, numel, shapes_for_spec
from .report import format_ci, paired_mode

# implementations whose thread pools can share a process without spinning
PAIRABLE = ("stream", "optgen", "optgen-1tensor", "optgen-torch", "optgen-torch-class", "numpy", "torch-forloop",
            "torch-foreach", "torch-fused", "torch-compile", "pytorch-optimizer")
PEERS = ("torch-fused", "torch-foreach", "torch-forloop")  # the peer a table is compared with, first one present
# (torch-forloop: for a class with one implementation only, torch.optim.Muon)
DEFAULT_ROUNDS = 100
SPIN_COUNT = "1000"  # libgomp spins before an idle thread sleeps (see the module docstring)


def minor_faults() -> int:
    """Page faults this process has taken so far: a step that maps fresh memory for its
    temporaries pays one per 4 KiB page (the kernel zeroes each), a step that
    allocates nothing pays none."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def last_level_cache_bytes() -> int:
    """The size of the largest CPU cache (L3 here) as the kernel lists it for cpu0 in sysfs; 32 MiB
    where it lists none. Not ``getconf``: under KVM it reports the host's cpuid (320 MiB of L3 on
    the Zen 4 host), where the guest's cores share 32 MiB."""
    sizes = []
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        text = Path(path).read_text().strip()
        scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text[:-1] if scale != 1 else text
        if digits.isdigit():
            sizes.append(int(digits) * scale)
    return max(sizes or [32 << 20])


def cache_evictor() -> Callable[[], None]:
    """What ``--cold`` runs before each timed step: one read of a buffer of twice the last-level
    cache, so the step finds its parameters, gradients and states in memory, as after a forward
    and backward pass over more activations than the cache holds. A read, not a write: the lines
    it leaves are clean, so the timed step does not pay for writing them back.

    Without it a small model's arrays stay in the cache between its steps, or not, by what ran
    just before: the small CNN (14 MB a step against a 32 MB L3) with SGD momentum gave
    optgen.torch 0.98 of torch fused's speed beside torch foreach, 1.09 with torch fused alone
    and 1.19 beside the stream kernel and optgen (`optgen bench momentum --model cnn-1m --paired`,
    Zen 4 host, 2026-12-06)."""
    import numpy as np
    buf = np.ones(2 * last_level_cache_bytes() // 8, np.float64)

    def evict() -> None:
        buf.sum()
    return evict


def median_ci(xs: list[float]) -> dict:
    """The median and its distribution-free 95% confidence interval (order statistics).

    The ranks n/2 ± 0.98·√n bracket the true median with probability ≈ 0.95 (the
    binomial(n, ½) normal approximation), whatever the distribution of the steps.
    """
    s, n = sorted(xs), len(xs)
    half = 0.98 * math.sqrt(n)
    lo, hi = max(int(math.floor(n / 2 - half)), 0), min(int(math.ceil(n / 2 + half)), n - 1)
    return {"median": statistics.median(s), "lo": s[lo], "hi": s[hi]}


def run_in_process(cfg: dict, progress: Callable[[int, int], None] | None = None) -> dict:
    """The worker's side: set up every (implementation, dtype), then alternate steps.

    Returns ``{"times": {"impl/dtype": [seconds per step, one per round]}, "faults": {...}}``
    (page faults per step, :func:`minor_faults`).
    """
    from .impls import IMPLS
    steps, firsts = {}, {}
    for dt in cfg["dtypes"]:
        for impl in cfg["impls"]:
            step = IMPLS[impl][1]({**cfg, "dtype": dt, "traffic": cfg["traffic"][dt]})
            t0 = time.perf_counter()
            step()  # the first step: compiles (torch.compile, a cold cache), touches every page
            firsts[f"{impl}/{dt}"] = time.perf_counter() - t0
            step()
            steps[f"{impl}/{dt}"] = step
    keys, rounds = list(steps), cfg["rounds"]
    times: dict = {k: [] for k in keys}
    faults: dict = {k: [] for k in keys}
    evict = cache_evictor() if cfg.get("cold") else None
    for r in range(rounds):
        shift = r % len(keys)
        for k in keys[shift:] + keys[:shift]:
            if evict is not None:
                evict()
            f0, t0 = minor_faults(), time.perf_counter()
            steps[k]()
            times[k].append(time.perf_counter() - t0)
            faults[k].append(minor_faults() - f0)
        if progress and ((r + 1) % max(rounds // 20, 1) == 0 or r + 1 == rounds):
            progress(r, rounds)
    return {"ok": True, "times": times, "faults": faults, "first_step_s": firsts}


def _spawn_streaming(cfg: dict, progress: Callable | None, label: str) -> dict:
    """Run the paired worker, forwarding its per-round progress lines."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["GOMP_SPINCOUNT"] = SPIN_COUNT
    proc = subprocess.Popen([sys.executable, "-m", "optgen.bench.worker", json.dumps(cfg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_tail: list[str] = []
    for line in proc.stderr:
        if line.startswith("#progress "):
            i, n = map(int, line.split()[1:3])
            if progress:
                progress(i, n, f"{label} round {i + 1}/{n}")
        else:
            err_tail = (err_tail + [line])[-40:]
    out = proc.stdout.read()
    proc.wait()
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"ok": False, "error": f"worker exited {proc.returncode}: {''.join(err_tail).strip()[-2000:]}"}


def run_paired(names, *, size=None, model=None, dtype="float32", rounds: int = DEFAULT_ROUNDS, impls=None,
               options: dict | None = None, progress: Callable | None = None, cold: bool = False) -> dict:
    """Benchmark each optimizer in ``names`` with its implementations alternating step by step in one process.
    ``cold``: each step starts with the caches cleared of its arrays (:func:`cache_evictor`).

    Every row gets ``vs_stream`` (median over rounds of the streaming kernel's step
    time over this implementation's, same dtype; ``vs_stream_ci`` with its 95% interval), ``vs_peer`` against
    torch's fused (else foreach) class, and, when both dtypes run, ``rate_vs_float32``
    (parameters per second relative to the same implementation in float32).
    """
    from .runner import machine, spawn, traffic
    all_shapes = model_shapes(model, size)
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    wanted = list(impls or [i for i in PAIRABLE if i not in ON_REQUEST])
    refused = [i for i in wanted if i not in PAIRABLE]
    if refused:
        raise ValueError(f"--paired can't run {', '.join(refused)} (its thread pool spins in a shared process); "
                         f"pairable: {', '.join(PAIRABLE)}")
    results = []
    for name in names:
        shapes = shapes_for_spec(name, all_shapes)
        n = numel(shapes)
        tr = {dt: traffic(name, options, dt) for dt in dtypes}
        base = {"name": name, "shapes": shapes, "options": options or {}, "dtype": dtypes[0], "traffic": tr[dtypes[0]]}
        probe = spawn({**base, "impl": "probe", "impls": wanted})
        if not probe.get("ok"):
            raise RuntimeError(f"probing implementations for {name}: {probe.get('error')}")
        out = _spawn_streaming({**base, "impl": "paired", "impls": probe["available"], "dtypes": dtypes,
                                "traffic": tr, "rounds": rounds, "cold": cold}, progress, name)
        if not out.get("ok"):
            raise RuntimeError(f"paired run of {name}: {out.get('error')}\n{out.get('traceback', '')}")
        for dt in dtypes:
            results.append({**_summarise(name, dt, tr[dt], out, probe["available"], n, len(shapes),
                                         model, rounds, options, dtypes), "not_run": probe.get("unavailable", {}),
                            "cold": cold})
    return {"machine": machine(), "mode": "paired", "cold": cold, "results": results}


def _summarise(name, dt, tr, out, avail, n, tensors, model, rounds, options, dtypes) -> dict:
    times = out["times"]
    def per_round(num: str, den: str) -> dict:
        return median_ci([a / b for a, b in zip(times[num], times[den])])
    bytes_per_step = tr["bytes_per_element"] * n
    peer = next((p for p in PEERS if p in avail), None)
    table = {}
    for impl in avail:
        ts = times[f"{impl}/{dt}"]
        t = statistics.median(ts)
        row = {"time_s": t, "gbps": bytes_per_step / t / 1e9, "params_per_s": n / t, "rounds_s": ts, "best_s": min(ts),
               "faults_per_step": statistics.median(out["faults"][f"{impl}/{dt}"]),
               "first_step_s": out["first_step_s"][f"{impl}/{dt}"]}
        if "stream" in avail:
            row["vs_stream_ci"] = per_round(f"stream/{dt}", f"{impl}/{dt}")
            row["vs_stream"] = row["vs_stream_ci"]["median"]
        if peer:
            row["vs_peer"] = per_round(f"{peer}/{dt}", f"{impl}/{dt}")
        if dt != "float32" and "float32" in dtypes:  # rate = n / time, so rate ratio = time ratio inverted
            row["rate_vs_float32"] = per_round(f"{impl}/float32", f"{impl}/{dt}")
        table[impl] = row
    return {"name": name, "model": model, "size": n, "tensors": tensors, "dtype": dt, "options": options or {},
            "bytes_per_step": bytes_per_step, "traffic": tr, "rounds": rounds, "mode": "paired", "peer": peer,
            "impls": table}


def _q(d: dict | None) -> str:
    return format_ci(d) or "-"


def format_paired(res: dict) -> str:
    """A text table per (optimizer, dtype): per-round ratios, median [95% CI]."""
    from .runner import not_run_lines
    lines = []
    for r in res["results"]:
        where = r["model"] or f"one tensor of {r['size']:,}"
        lines.append(f"{r['name']}  {where}  ({r['tensors']} tensors, {r['size'] / 1e6:.1f}M params, {r['dtype']}): "
                     f"{r['traffic']['bytes_per_element']} B/param, {paired_mode(r)}, "
                     f"median [95% CI] of {r['rounds']} rounds")
        rate = any("rate_vs_float32" in row for row in r["impls"].values())
        head = f"  {'implementation':18} {'time ms':>9} {'GB/s':>7} {'1st step s':>10} {'faults/step':>12} {'x stream':>22}"
        head += f" {'x ' + r['peer']:>22}" if r["peer"] else ""
        head += f" {'rate vs float32':>22}" if rate else ""
        lines.append(head)
        for impl, row in r["impls"].items():
            text = (f"  {impl:18} {row['time_s'] * 1e3:9.2f} {row['gbps']:7.1f} {row['first_step_s']:10.2f} "
                    f"{row['faults_per_step']:12.0f} {_q(row.get('vs_stream_ci')):>22}")
            text += f" {_q(row.get('vs_peer')):>22}" if r["peer"] else ""
            text += f" {_q(row.get('rate_vs_float32')):>22}" if rate else ""
            lines.append(text)
        lines += not_run_lines(r)
        lines.append("")
    return "\n".join(lines)
