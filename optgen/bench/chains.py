"""Synthetic specs of a chosen size, for measuring how compile time grows with a spec.

Two shapes of per-element work, ``n`` equations each (plus the update of ``w``):

* *linear*: ``x_k = beta * x_{k-1} + g`` -- each intermediate used once, so the
  inlined expression is a nest ``n`` deep;
* *doubled*: ``x_k = x_{k-1} / (1 + beta * x_{k-1}**2)`` -- each intermediate used
  twice, so inlining without sharing doubles the tree at every equation.

Both stay bounded for any number of steps (|x_k| is at most a few times |g|), so a
test can compare the compiled step with the reference oracle at any size.
"""
from __future__ import annotations

from ..dsl import hyper, state, var
from ..spec import Spec, g, w

SHAPES = ("linear", "doubled")


def chain_spec(shape: str, n: int, name: str | None = None) -> Spec:
    """A spec with ``n`` chained intermediates of the given shape, a state and the ``w`` update."""
    if shape not in SHAPES:
        raise ValueError(f"unknown chain shape {shape!r}; one of {SHAPES}")
    if n < 1:
        raise ValueError(f"a chain needs at least one equation, got n={n}")
    lr = hyper("lr", 1e-2, domain="positive", doc="step size")
    beta = hyper("beta", 0.5, domain="[0, 1)", doc="chain factor")
    m = state("m", 0)
    xs = [var(f"c{k}") for k in range(1, n + 1)]
    eqs = [(xs[0], g + beta * w)]
    for prev, x in zip(xs, xs[1:]):
        if shape == "linear":
            eqs.append((x, beta * prev + g))
        else:
            eqs.append((x, prev / (1 + beta * prev**2)))
    eqs += [(m, beta * m + xs[-1]), (w, w - lr * m)]
    return Spec(name or f"chain_{shape}_{n}", eqs, doc=f"A {shape} chain of {n} intermediates.")
