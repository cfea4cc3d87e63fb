"""Markdown tables from ``optgen bench --json`` files (for docs/performance.md).

    python -m optgen.bench.report docs/perf/adam-gpt2.json [...]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .plot import ORDER


def _where(r: dict) -> str:
    return r["model"] or f"1 tensor × {r['size']:,}"


def markdown(res: dict, vs: str = "torch-fused") -> str:
    out = []
    for r in res.get("results", []):
        tr = r["traffic"]
        out.append(f"**{r['name']}**, {_where(r)} ({r['tensors']} tensors, {r['size'] / 1e6:.1f}M parameters), "
                   f"{r['dtype']}: {tr['bytes_per_element']} B/parameter in {len(tr['passes'])} pass(es); "
                   f"median of {r['rounds']} rounds\n")
        ref = r["impls"].get(vs, {}).get("time_s")
        if not ref and "torch-foreach" in r["impls"]:
            vs_here, ref = "torch-foreach", r["impls"]["torch-foreach"].get("time_s")
        else:
            vs_here = vs
        faults = _has_faults(r)
        head = ("| implementation | time (ms) | GB/s | × stream | best (ms) |" + (f" × {vs_here} |" if ref else "")
                + (" page faults / step |" if faults else ""))
        out.append(head)
        out.append("|" + "---|" * (head.count("|") - 1))
        impls = [i for i in ORDER if i in r["impls"]] + [i for i in r["impls"] if i not in ORDER]
        for impl in impls:
            row = r["impls"][impl]
            if "time_s" not in row:
                out.append(f"| {impl} | error: {row.get('error', '')[:60]} |")
                continue
            name = f"**{impl}**" if impl == "optgen" else impl
            line = (f"| {name} | {row['time_s'] * 1e3:.2f} | {row['gbps']:.1f} | {row.get('vs_stream', float('nan')):.2f} "
                    f"| {row['best_s'] * 1e3:.2f} |")
            if ref:
                line += f" {ref / row['time_s']:.2f} |"
            line += _faults_cell(row) if faults else ""
            out.append(line)
        out.append("")
    return "\n".join(out)


def _has_faults(r: dict) -> bool:
    return any("faults_per_step" in row for row in r["impls"].values())


def _faults_cell(row: dict) -> str:
    return f" {row['faults_per_step']:,.0f} |" if "faults_per_step" in row else " |"


def format_ci(d: dict | None) -> str:
    return f"{d['median']:.3f} [{d['lo']:.3f}, {d['hi']:.3f}]" if d else ""


def paired_mode(r: dict) -> str:
    """How a paired result's steps were timed, for its heading."""
    return "paired steps in one process" + (", each from a cold cache" if r.get("cold") else "")


def paired_markdown(res: dict) -> str:
    """``optgen bench --paired`` results: per-round ratios, median [95% CI]."""
    out = []
    for r in res.get("results", []):
        out.append(f"**{r['name']}**, {_where(r)} ({r['tensors']} tensors, {r['size'] / 1e6:.1f}M parameters), "
                   f"{r['dtype']}: {r['traffic']['bytes_per_element']} B/parameter; {paired_mode(r)}, "
                   f"median [95% CI] of {r['rounds']} rounds\n")
        rate = any("rate_vs_float32" in row for row in r["impls"].values())
        faults = _has_faults(r)
        head = ("| implementation | time (ms) | GB/s | × stream |" + (f" × {r['peer']} |" if r.get("peer") else "")
                + (" parameter rate vs float32 |" if rate else "") + (" page faults / step |" if faults else ""))
        out += [head, "|" + "---|" * (head.count("|") - 1)]
        for impl, row in r["impls"].items():
            name = f"**{impl}**" if impl == "optgen" else impl
            line = f"| {name} | {row['time_s'] * 1e3:.2f} | {row['gbps']:.1f} | {format_ci(row.get('vs_stream_ci'))} |"
            line += f" {format_ci(row.get('vs_peer'))} |" if r.get("peer") else ""
            line += f" {format_ci(row.get('rate_vs_float32'))} |" if rate else ""
            line += _faults_cell(row) if faults else ""
            out.append(line)
        out.append("")
    return "\n".join(out)


def summary(res: dict) -> str:
    """One line per (optimizer, dtype): optgen's fraction of the floor (for many optimizers at once)."""
    out = ["| optimizer | dtype | B/param | passes | optgen (ms) | stream (ms) | optgen × stream |", "|---|---|---|---|---|---|---|"]
    for r in res.get("results", []):
        o, s = r["impls"].get("optgen", {}), r["impls"].get("stream", {})
        if "time_s" in o and "time_s" in s:
            out.append(f"| {r['name']} | {r['dtype']} | {r['traffic']['bytes_per_element']} | {len(r['traffic']['passes'])} "
                       f"| {o['time_s'] * 1e3:.2f} | {s['time_s'] * 1e3:.2f} | "
                       f"{format_ci(o.get('vs_stream_ci')) or format(o['vs_stream'], '.2f')} |")
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    brief = "--summary" in args
    for f in [a for a in args if a != "--summary"]:
        res = json.loads(Path(f).read_text())
        print(summary(res) if brief else paired_markdown(res) if res.get("mode") == "paired" else markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
