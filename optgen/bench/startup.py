"""Compile and start-up time: how long until the first step.

*fresh*: a new process, a spec file optgen has never built (a copy of the spec in
a temporary directory, empty optgen and Numba caches): generate the module,
compile the kernel, take the first step. *cached*: the same again in another new
process, reusing the generated module and Numba's cache. Both are measured from
after ``import optgen`` to the end of the first step; ``import optgen`` is
reported on its own.
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

_PROBE = r"""
import json, sys, time
t0 = time.perf_counter()
import optgen
t1 = time.perf_counter()
import numpy as np
dtype = np.dtype(sys.argv[2])
params = [np.zeros(4096, dtype), np.zeros((64, 64), dtype)]
grads = [np.full(p.shape, 1e-3, dtype) for p in params]
opt = optgen.create(sys.argv[1], params)
t2 = time.perf_counter()
opt.step(grads)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "create_s": t2 - t1, "first_step_s": t3 - t2, "total_s": t3 - t1,
                  "sympy": "sympy" in sys.modules, "scipy": "scipy" in sys.modules}))
"""


def _run(spec_file: str, dtype: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, spec_file, dtype], capture_output=True, text=True,
                         env=env, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"start-up probe failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_startup(target: str, dtype: str = "float32", rounds: int = 3, progress=None) -> dict:
    """Median fresh and cached times to the first step of ``target`` (a name or ``path.py[:NAME]``;
    see the module doc)."""
    from ..registry import load_spec, source_path
    spec = load_spec(target)
    name, src = spec.name, source_path(spec)
    fresh, cached = [], []
    for r in range(rounds):
        if progress:
            progress(r, rounds, f"{name} start-up (round {r + 1}/{rounds})")
        with tempfile.TemporaryDirectory(prefix="optgen-startup-") as tmp:
            spec_file = os.path.join(tmp, "specs", src.name)
            os.makedirs(os.path.dirname(spec_file))
            shutil.copy(src, spec_file)
            env = {**os.environ, "OPTGEN_CACHE_DIR": os.path.join(tmp, "optgen"),
                   "NUMBA_CACHE_DIR": os.path.join(tmp, "numba")}
            target = f"{spec_file}:{name}"
            fresh.append(_run(target, dtype, env))
            cached.append(_run(target, dtype, env))

    def med(runs, key):
        return statistics.median(x[key] for x in runs)

    return {"name": name, "dtype": dtype, "rounds": rounds,
            "fresh": {k: med(fresh, k) for k in ("import_s", "create_s", "first_step_s", "total_s")},
            "cached": {k: med(cached, k) for k in ("import_s", "create_s", "first_step_s", "total_s")},
            "scipy_loaded": cached[-1]["scipy"]}


def format_startup(res: list[dict]) -> str:
    lines = [f"  {'optimizer':12} {'import optgen':>13} {'fresh: to 1st step':>19} {'cached: to 1st step':>20}"
             f"   (cached = create {'':>1}+ first step)"]
    for r in res:
        f, c = r["fresh"], r["cached"]
        lines.append(f"  {r['name']:12} {c['import_s']:12.2f}s {f['total_s']:18.2f}s {c['total_s']:19.2f}s"
                     f"   ({c['create_s']:.2f} s + {c['first_step_s']:.2f} s)")
    return "\n".join(lines)
