"""A bar chart of ``optgen bench --json`` files: each implementation's fraction of the bandwidth floor.

    python -m optgen.bench.plot docs/perf/*.json -o docs/performance.png

One panel per file; within a panel one group of bars per optimizer (and dtype),
one bar per implementation; the height is ``x stream``, the streaming kernel's
time over the implementation's (1.0 = moving the spec's bytes at the speed of
the same-traffic streaming kernel). Needs matplotlib (the ``plot`` extra).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ORDER = ["stream", "optgen", "optgen-1tensor", "numpy", "torch-forloop", "torch-foreach", "torch-fused",
         "optax-jit", "pytorch-optimizer"]
COLORS = {"stream": "#9e9e9e", "optgen": "#d62728", "optgen-1tensor": "#ff9896", "numpy": "#8c564b",
          "torch-forloop": "#aec7e8", "torch-foreach": "#6baed6", "torch-fused": "#1f77b4",
          "optax-jit": "#2ca02c", "pytorch-optimizer": "#9467bd"}


def _title(res: list[dict], path: Path) -> str:
    r = res[0]
    where = r["model"] or f"one tensor of 2^{int(round(math.log2(r['size'])))}" if r["size"] > 0 else "?"
    dtypes = sorted({x["dtype"] for x in res})
    return f"{path.stem}\n{where}, {'/'.join(dtypes)}"


def plot(files: list[Path], out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    data = [(p, json.loads(p.read_text())) for p in files]
    data = [(p, d) for p, d in data if d.get("results")]
    if not data:
        raise SystemExit("no benchmark results in " + ", ".join(map(str, files)))
    ncols = min(len(data), 3)
    nrows = -(-len(data) // ncols)
    most = max(len(d["results"]) for _, d in data)
    panel_w = 5.2 if ncols > 1 else max(5.2, 0.42 * most + 2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_w * ncols, 4.2 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[len(data):]:
        ax.set_visible(False)
    for ax, (path, d) in zip(flat, data):
        res = d["results"]
        impls = [i for i in ORDER if any(i in r["impls"] for r in res)]
        impls += sorted({i for r in res for i in r["impls"]} - set(impls))
        n = len(impls)
        bw = 0.8 / max(n, 1)
        for j, impl in enumerate(impls):
            xs, ys = [], []
            for g, r in enumerate(res):
                row = r["impls"].get(impl, {})
                if "vs_stream" in row:
                    xs.append(g - 0.4 + bw * (j + 0.5))
                    ys.append(row["vs_stream"])
            ax.bar(xs, ys, bw, label=impl, color=COLORS.get(impl))
        ax.set_yscale("log")
        ax.set_ylim(0.01, 3.0)
        ax.axhline(1.0, color="black", lw=0.8, ls="--")
        ax.set_xticks(range(len(res)))
        multi_dtype = len({r["dtype"] for r in res}) > 1
        ax.set_xticklabels([r["name"] + (f"\n{r['dtype']}" if multi_dtype else "") for r in res],
                           rotation=50 if len(res) > 6 else 0, ha="right" if len(res) > 6 else "center", fontsize=8)
        ax.set_title(_title(res, path), fontsize=9)
        ax.grid(axis="y", which="both", alpha=0.3)
    for row in axes:
        row[0].set_ylabel("x stream (log; 1 = the floor)")
    handles, labels = {}, {}
    for ax in flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    order = [k for k in ORDER if k in handles] + [k for k in handles if k not in ORDER]
    fig.legend([handles[k] for k in order], order, loc="lower center", ncol=min(len(order), 9), fontsize=8,
               frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m optgen.bench.plot", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("-o", "--out", type=Path, default=Path("docs/performance.png"))
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("optgen.bench.plot needs matplotlib: pip install 'optgen[plot]'", file=sys.stderr)
        return 2
    plot(args.files, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
