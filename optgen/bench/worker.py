"""One implementation, timed in a process of its own.

    python -m optgen.bench.worker '<json config>'

The config names the implementation, the optimizer, the shapes, the dtype and
the timing budget. The last line printed is a JSON object: ``{"ok": true,
"times": [...]}`` (seconds per step) or ``{"ok": false, "error": "..."}``.
With ``"impl": "probe"`` it answers which implementations are available; with
``"impl": "paired"`` it runs several, alternating step by step (:mod:`optgen.bench.paired`).
"""
from __future__ import annotations

import json
import sys
import time
import traceback

from .paired import minor_faults, run_in_process


def run(cfg: dict) -> dict:
    from .impls import IMPLS
    if cfg["impl"] == "probe":
        from .impls import unavailable_reason
        available = [name for name in cfg["impls"] if IMPLS[name][0](cfg)]
        return {"ok": True, "available": available,
                "unavailable": {name: unavailable_reason(name, cfg) for name in cfg["impls"] if name not in available}}
    if cfg["impl"] == "paired":
        return run_in_process(cfg, lambda i, n: print(f"#progress {i} {n}", file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    step = IMPLS[cfg["impl"]][1](cfg)
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    step()  # the first step: compiles, loads caches, touches every page
    t_first = time.perf_counter() - t0
    for _ in range(max(cfg.get("warmup", 2) - 1, 0)):
        step()
    times: list[float] = []
    faults: list[int] = []
    start = time.perf_counter()
    min_steps, max_steps, min_time = cfg.get("min_steps", 5), cfg.get("max_steps", 200), cfg.get("min_time", 1.0)
    while len(times) < max_steps and (len(times) < min_steps or time.perf_counter() - start < min_time):
        f0, t0 = minor_faults(), time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        faults.append(minor_faults() - f0)
    return {"ok": True, "times": times, "faults": faults, "setup_s": t_setup, "first_step_s": t_first}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = json.loads(argv[0])
    cfg["shapes"] = [tuple(s) for s in cfg.get("shapes", [])]
    try:
        out = run(cfg)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which goes on
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    sys.stdout.write("\n" + json.dumps(out) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
