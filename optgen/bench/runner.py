"""Orchestrating a benchmark: traffic of the spec, worker processes in alternating rounds, medians."""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from importlib import metadata
from typing import Callable

import numpy as np

from .impls import DEFAULT_IMPLS, IMPLS
from .models import model_shapes, numel, shapes_for_spec

WORKER_TIMEOUT_S = 900


def traffic(name: str, options: dict | None = None, dtype: str = "float32", t: int = 1000) -> dict:
    """The passes optgen's kernel makes at step ``t`` (steady state) and the bytes each moves.

    This is the spec's own traffic floor: the streaming kernel moves exactly these
    bytes, and every implementation's GB/s is these bytes over its time. A pass followed by
    matrix steps lists their iteration counts (``matrix_steps``): the floor runs their matmuls.
    """
    from .. import abi
    from ..compiler.driver import load_module
    from ..registry import load_spec
    from ..runtime import hypers as hyper_values
    spec = load_spec(name)
    opts, values = hyper_values.resolve(spec, dict(options or {}))
    module = load_module(spec, opts, "cpu")
    key = tuple(module.select_variant(t, hyper_values.values_at(spec, values, t)))  # the runtime's own choice
    variant = module.VARIANTS[key]  # the generated module's ABI (optgen/abi.py)
    passes = [{"loads": list(p.loads), "stores": list(p.stores), "reductions": len(p.reductions),
               "matrix_steps": [m.steps for m in (variant.matrix_steps[q] if q < len(variant.matrix_steps) else ())]}
              for q, p in enumerate(variant.passes)]
    return {"passes": passes, "bytes_per_element": abi.bytes_per_element(variant.passes, np.dtype(dtype).itemsize),
            "variant": list(key)}


def machine() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "L2 cache", "L3 cache", "Thread(s) per core", "Core(s) per socket"):
                info[k.strip()] = v.strip()
        info["avx512"] = "avx512f" in out
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/meminfo") as f:
            info["memory_GiB"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    for pkg in ("numpy", "numba", "llvmlite", "torch", "jax", "optax", "pytorch_optimizer"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return info


def spawn(cfg: dict) -> dict:
    """Run one worker process and return its JSON answer."""
    cmd = [sys.executable, "-m", "optgen.bench.worker", json.dumps(cfg)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {WORKER_TIMEOUT_S} s"}
    for line in reversed(proc.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"ok": False, "error": f"worker exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"}


def run_bench(names, *, size: int | None = None, model: str | None = None, dtype="float32",
              rounds: int = 3, impls=None, min_time: float = 1.0, options: dict | None = None,
              progress: Callable | None = None, log: Callable | None = None) -> dict:
    """Benchmark each optimizer in ``names`` (for each dtype in ``dtype``, a name or a list).

    Every (optimizer, dtype, implementation) is one process per round; a round
    runs all of them, in an order rotated from round to round, so that a noisy
    minute on a shared machine hits every implementation alike. The figure is the
    median over rounds of each process's median step time.
    """
    all_shapes = model_shapes(model, size)
    dtypes = [dtype] if isinstance(dtype, str) else list(dtype)
    wanted = list(impls or DEFAULT_IMPLS)
    unknown = [i for i in wanted if i not in IMPLS]
    if unknown:
        raise ValueError(f"unknown implementation(s) {unknown}; available: {', '.join(IMPLS)}")
    plans = []
    for name in names:
        for dt in dtypes:
            tr = traffic(name, options, dt)
            base = {"name": name, "shapes": shapes_for_spec(name, all_shapes), "dtype": dt, "traffic": tr,
                    "options": options or {}, "min_time": min_time}
            probe = spawn({**base, "impl": "probe", "impls": wanted})
            if not probe.get("ok"):
                raise RuntimeError(f"probing implementations for {name}: {probe.get('error')}")
            plans.append((base, probe["available"], probe.get("unavailable", {})))
    jobs = [(q, impl) for q, (_, avail, _) in enumerate(plans) for impl in avail]
    total = rounds * len(jobs)
    runs: dict = {job: [] for job in jobs}
    firsts: dict = {job: [] for job in jobs}
    faults: dict = {job: [] for job in jobs}
    bests: dict = {job: [] for job in jobs}
    errors: dict = {}
    done = 0
    for r in range(rounds):
        k = (r * max(len(jobs) // max(rounds, 1), 1)) % max(len(jobs), 1)
        for job in jobs[k:] + jobs[:k]:  # rotate the order each round
            base = plans[job[0]][0]
            if progress:
                progress(done, total, f"{base['name']} {base['dtype']} {job[1]} (round {r + 1}/{rounds})")
            done += 1
            if job in errors:
                continue
            out = spawn({**base, "impl": job[1]})
            if not out.get("ok"):
                errors[job] = out.get("error", "failed")
                if log:
                    log(f"{base['name']} {job[1]}: {errors[job]}")
                continue
            runs[job].append(statistics.median(out["times"]))
            bests[job].append(min(out["times"]))
            firsts[job].append(out["first_step_s"])
            faults[job].append(statistics.median(out["faults"]))
    results = []
    for q, (base, avail, not_run) in enumerate(plans):
        n = numel(base["shapes"])
        bytes_per_step = base["traffic"]["bytes_per_element"] * n
        table = {}
        for impl in avail:
            job = (q, impl)
            if not runs[job]:
                table[impl] = {"error": errors.get(job, "no result")}
                continue
            t = statistics.median(runs[job])
            table[impl] = {"time_s": t, "gbps": bytes_per_step / t / 1e9, "params_per_s": n / t,
                           "rounds_s": runs[job], "best_s": min(bests[job]),
                           "first_step_s": statistics.median(firsts[job]),
                           "faults_per_step": statistics.median(faults[job])}
        floor = table.get("stream", {}).get("time_s")
        for row in table.values():
            if "time_s" in row and floor:
                row["vs_stream"] = floor / row["time_s"]
        results.append({"name": base["name"], "model": model, "size": n, "tensors": len(base["shapes"]),
                        "dtype": base["dtype"], "options": options or {}, "bytes_per_step": bytes_per_step,
                        "traffic": base["traffic"], "rounds": rounds, "impls": table, "not_run": not_run})
    return {"machine": machine(), "results": results}


def not_run_lines(r: dict) -> list[str]:
    """What was asked for and not run, in words: never a silent gap or a NaN."""
    lines = [f"  {impl:18} not run: {why}" for impl, why in r.get("not_run", {}).items()]
    if "stream" not in r["impls"] or "time_s" not in r["impls"]["stream"]:
        lines.append("  x stream: not measured (the streaming kernel 'stream' was not run; add it to --impl)")
    return lines


def format_table(res: dict) -> str:
    lines = []
    for r in res["results"]:
        where = r["model"] or f"one tensor of {r['size']:,}"
        tr = r["traffic"]
        lines.append(f"{r['name']}  {where}  ({r['tensors']} tensors, {r['size'] / 1e6:.1f}M params, {r['dtype']}): "
                     f"{tr['bytes_per_element']} B/param in {len(tr['passes'])} pass(es), "
                     f"median of {r['rounds']} rounds")
        fused = r["impls"].get("torch-fused", {}).get("time_s")
        head = f"  {'implementation':18} {'time ms':>9} {'GB/s':>7} {'x stream':>9} {'best ms':>9} {'faults/step':>12}"
        if fused:
            head += f" {'x torch-fused':>14}"
        lines.append(head)
        for impl, row in r["impls"].items():
            if "time_s" not in row:
                lines.append(f"  {impl:18} {'error: ' + row['error'][:70]}")
                continue
            vs = f"{row['vs_stream']:9.2f}" if "vs_stream" in row else f"{'-':>9}"
            text = (f"  {impl:18} {row['time_s'] * 1e3:9.2f} {row['gbps']:7.1f} {vs} {row['best_s'] * 1e3:9.2f} "
                    f"{row.get('faults_per_step', float('nan')):12.0f}")
            if fused:
                text += f" {fused / row['time_s']:14.2f}"
            lines.append(text)
        lines += not_run_lines(r)
        lines.append("")
    return "\n".join(lines)
