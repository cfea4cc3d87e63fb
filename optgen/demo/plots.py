"""The two figures, drawn with matplotlib's non-interactive Agg backend (no display needed).

matplotlib is optional (the ``plot`` extra): ``matplotlib_or_none`` says whether
the figures can be drawn, and the demo prints its table either way.
"""
from __future__ import annotations

import os

import numpy as np

from .explain import diverged_at
from .rosenbrock import MINIMUM, Run, rosenbrock

XLIM, YLIM = (-2.0, 2.0), (-1.0, 3.0)


def matplotlib_or_none():
    """pyplot on the Agg backend, or None if matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _log_levels(low: float, high: float, count: int) -> np.ndarray:
    return np.logspace(np.log10(low), np.log10(high), count)


# The paths split over two panels for legibility; a name not listed goes to the second one.
GRADIENT_SCALED = ("sgd", "momentum", "nesterov", "lars", "lamb")
PANEL_TITLES = ("step from the gradient's size, or a trust ratio", "per-coordinate adaptive step")


def split_panels(runs: list[Run]) -> list[tuple[str, list[Run]]]:
    """The runs of each panel, empty panels left out."""
    first = [r for r in runs if r.name in GRADIENT_SCALED]
    second = [r for r in runs if r.name not in GRADIENT_SCALED]
    return [(title, panel) for title, panel in zip(PANEL_TITLES, (first, second)) if panel]


def rosenbrock_figure(runs: list[Run], path: str) -> str:
    """The contour (log-spaced levels, the minimum starred) with every run's path from the common start."""
    plt = matplotlib_or_none()
    xs, ys = np.linspace(*XLIM, 300), np.linspace(*YLIM, 300)
    gx, gy = np.meshgrid(xs, ys)
    panels = split_panels(runs)
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 6.6), dpi=80, squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, (title, panel) in zip(axes[0], panels):
        ax.contour(gx, gy, rosenbrock(gx, gy), levels=_log_levels(1e-1, 2e3, 12), cmap="viridis",
                   linewidths=0.7, alpha=0.45, zorder=1)
        for i, run in enumerate(panel):
            k = diverged_at(run.path)
            shown = run.path[:k] if k is not None else run.path
            label = run.name + (" (diverged)" if k is not None else "")
            ax.plot(shown[:, 0], shown[:, 1], "-", color=colors[i % 10], lw=1.6, label=label, alpha=0.85, zorder=3)
            if k is None:
                ax.plot(*shown[-1], "o", color=colors[i % 10], ms=7, mec="k", mew=0.6, zorder=4)
        ax.plot(*runs[0].path[0], "ks", ms=8, label="start", zorder=4)
        ax.plot(*MINIMUM, "*", color="orange", ms=22, mec="k", alpha=0.6, label="minimum (1, 1)", zorder=2)
        ax.set(xlim=XLIM, ylim=YLIM, xlabel="x", ylabel="y", title=title)
        ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    fig.suptitle(f"Rosenbrock (1-x)$^2$ + 100(y-x$^2$)$^2$, contours log-spaced: {len(runs[0].path) - 1} steps"
                 " of each optimizer from one start (dots: where each ended)")
    fig.tight_layout()
    return _save(fig, plt, path)


def landscape_figure(results, path: str) -> str:
    """One panel per optimizer's end point, same levels and colours, so their basins compare directly."""
    plt = matplotlib_or_none()
    low = min(r[6].min() for r in results)
    high = max(r[6].max() for r in results)
    levels = _log_levels(max(low, 1e-6), high, 25)
    from matplotlib.colors import LogNorm
    from matplotlib.ticker import LogLocator
    fig, axes = plt.subplots(1, len(results), figsize=(11, 5.2), dpi=90, sharey=True, layout="constrained")
    for ax, (name, lr, _params, curve, alphas, betas, surf) in zip(axes, results):
        filled = ax.contourf(alphas, betas, np.clip(surf, levels[0], None), levels=levels,
                             norm=LogNorm(levels[0], levels[-1]), cmap="viridis")
        ax.contour(alphas, betas, surf, levels=levels[::3], colors="w", linewidths=0.4, alpha=0.6)
        ax.plot(0, 0, "*", color="orange", ms=14, mec="k")
        ax.set(title=f"{name} (lr {lr:g}): end loss {surf[len(betas) // 2, len(alphas) // 2]:.1e}",
               xlabel=r"$\alpha$ (direction 1)", aspect="equal")
    axes[0].set_ylabel(r"$\beta$ (direction 2)")
    fig.colorbar(filled, ax=list(axes), label="mean squared error", shrink=0.9, ticks=LogLocator(10))
    fig.suptitle(f"Sine-regression MLP: loss around each optimizer's end point along two filter-normalised"
                 f" random directions\n(Li et al. 2018; same draws and same levels in both panels:"
                 f" a wider dark basin is a flatter minimum; {len(results[0][3])} full-batch steps each)",
                 fontsize=10)
    return _save(fig, plt, path)


def _save(fig, plt, path: str) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
