"""Why each optimizer ends where it does: measured facts of its run, then a short family note.

The facts come from the path alone (did it diverge, how far from (1, 1) it ended,
how fast it still moves, whether it zigzags across the valley); the family notes
say in a line what the update rule does on this valley. Together they turn a final
loss into something a reader can check against the contour plot.
"""
from __future__ import annotations

import numpy as np

from .rosenbrock import MINIMUM, Run, rosenbrock_hessian

REACHED = 0.02        # |theta - (1, 1)| below this counts as at the minimum
ESCAPED = 1e3         # |theta| above this (or not finite) counts as diverged
JUMP = 0.5            # a step longer than this in the first five: a jump out of the valley
ZIGZAG = 3.0          # path length / net displacement over the last steps above this: zigzagging

FAMILY = {
    "sgd": "step = lr x g: large on the valley walls, tiny on its flat floor",
    "momentum": "heavy ball: the velocity sums past gradients, up to 1/(1-momentum) = 10x GD's step on the floor",
    "nesterov": "momentum with the gradient taken at the look-ahead point",
    "adagrad": "divides by sqrt of the sum of all past g^2: its steps shrink like lr/sqrt(t)",
    "rmsprop": "divides by sqrt of a short-memory (alpha = 0.99) mean of g^2: steps near lr, however small g is",
    "adadelta": "step = RMS(past steps)/RMS(g) x g: starts near sqrt(eps) and grows only as its own steps do",
    "adam": "momentum over sqrt(v_hat), a long memory (beta2 = 0.999) of g^2: the steep start keeps v_hat large,"
            " so its steps on the flat floor stay well below lr",
    "adamw": "Adam plus decoupled weight decay lr*wd*theta, a pull toward (0, 0) away from (1, 1)",
    "nadam": "Adam with a Nesterov look-ahead on the momentum",
    "radam": "while rho_t <= 5 (its first steps) an un-adapted momentum step lr x m_hat, then Adam's rectified step",
    "lamb": "Adam's update rescaled per tensor by the trust ratio ||theta||/||u|| to length lr*||theta||:"
            " tiny near (0, 0), where ||theta|| is small",
    "lars": "momentum on g rescaled per tensor by tc*||theta||/||g||: steps of ~lr*tc*||theta||/(1-momentum),"
            " whatever g's size",
    "ranger": "RAdam (un-adapted first steps) plus Lookahead: every 6 steps theta is pulled halfway back"
              " to a slow copy",
}


def diverged_at(path: np.ndarray) -> int | None:
    """The first step whose theta is not finite or has left the picture (|theta| > ESCAPED)."""
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~np.isfinite(path).all(axis=1) | (np.abs(path).max(axis=1) > ESCAPED)
    return int(np.argmax(bad)) if bad.any() else None


def facts(run: Run) -> str:
    """The measured part of the line: divergence, or the distance, step length and zigzag at the end."""
    path = run.path
    k = diverged_at(path)
    if k is not None:
        text = f"diverged at step {k}"
        if k >= 2:  # the steps before it are finite
            early = np.linalg.norm(np.diff(path[: min(k, 6)], axis=0), axis=1).max()
            text += f": its first steps moved up to {early:.2g}, far more than the valley is wide"
        if run.lr is not None:
            curvature = np.linalg.eigvalsh(rosenbrock_hessian(*path[0])).max()
            text += (f"; lr x curvature across the valley = {run.lr * curvature:.0f} at the start"
                     " (a gradient step is stable only below 2)")
        return text
    end = path[-1]
    dist = float(np.linalg.norm(end - MINIMUM))
    if dist < REACHED:
        first = int(np.argmax(np.linalg.norm(path - MINIMUM, axis=1) < 5 * REACHED))
        return _early_jump(path) + (f"reached (1, 1): within {5 * REACHED:g} from step {first},"
                                    f" {dist:.1e} away at the end")
    tail = path[-max(len(path) // 10, min(len(path), 10)):]  # the last tenth, at least 10 points
    net = float(np.linalg.norm(tail[-1] - tail[0]))
    walked = float(np.linalg.norm(np.diff(tail, axis=0), axis=1).sum())
    step = walked / (len(tail) - 1)
    text = f"{dist:.2g} short of (1, 1); its last steps are {step:.1e} long"
    if run.lr is not None:
        text += f" ({step / run.lr:.2g} x lr)"
    if net > 0 and walked / net > ZIGZAG:
        text += f", zigzagging across the valley (path {walked / net:.0f}x its net progress)"
    return _early_jump(path) + text


def _early_jump(path: np.ndarray) -> str:
    """A first few steps far longer than the valley is wide (RAdam's un-adapted start), said first."""
    early = float(np.linalg.norm(np.diff(path[:6], axis=0), axis=1).max())
    return f"its first steps jumped up to {early:.2g}; " if early > JUMP else ""


def why(run: Run) -> str:
    """One line: the measured facts, then what the update rule does on this valley."""
    note = FAMILY.get(run.name)
    return facts(run) + (f". {note[0].upper()}{note[1:]}." if note else ".")

