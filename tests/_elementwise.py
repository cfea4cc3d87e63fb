"""Specs that each use one elementwise function, and the same steps written by hand in numpy.

A unary function f (tanh, sinh, cosh, atan, erf, sin, cos) appears in all three stages::

    r = f(norm(g) / 8)
    w = w - lr * (f(g / scale) + f(lr) * w / 8 + r * g / 8)

per element (f(g / scale)), in the host stage (f of a hyperparameter) and in the per-tensor
stage (the intermediate r, an array over the tensors). atan2 is Adam-atan2 (Everett et al. 2024,
"Scaling Exponents Across Parameterizations and Optimizers"): atan2(m_hat, sqrt(v_hat)) in
place of m_hat / (sqrt(v_hat) + eps), with atan2 of hyperparameters and of a norm beside it.
``spec_using(name, per_element_only=True)`` keeps only the per-element use, for the checks
that a float32 kernel computes in float32.

The hand-written steps (``hand_step``) use numpy's functions (``math.erf`` for erf), in
float64, and share no code with optgen's printers or its reference oracle.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from optgen.dsl import Spec, atan, atan2, cos, cosh, erf, g, hyper, norm, sin, sinh, sqrt, state, t, tanh, var, w

SYMPY = {"tanh": tanh, "sinh": sinh, "cosh": cosh, "atan": atan, "erf": erf, "sin": sin, "cos": cos}
NUMPY = {"tanh": np.tanh, "sinh": np.sinh, "cosh": np.cosh, "atan": np.arctan,
         "erf": np.vectorize(math.erf, otypes=[np.float64]), "sin": np.sin, "cos": np.cos}
FUNCTIONS = [*SYMPY, "atan2"]
HYPERS = {"lr": 0.05, "scale": 2.0, "beta1": 0.9, "beta2": 0.99}
HYPERS_USED = {"atan2": ("lr", "scale", "beta1", "beta2")}  # the others use lr and scale


def hypers_of(name: str) -> dict:
    return {k: HYPERS[k] for k in HYPERS_USED.get(name, ("lr", "scale"))}


@functools.lru_cache(maxsize=None)
def spec_using(name: str, per_element_only: bool = False) -> Spec:
    lr = hyper("lr", HYPERS["lr"], domain="positive")
    scale = hyper("scale", HYPERS["scale"], domain="positive")
    label = f"fn_{name}" + ("_element" if per_element_only else "")
    r = var("r")  # per tensor
    if name == "atan2":
        beta1 = hyper("beta1", HYPERS["beta1"], domain="[0, 1)")
        beta2 = hyper("beta2", HYPERS["beta2"], domain="[0, 1)")
        m, v = state("m", init=0), state("v", init=0)
        step = atan2(m / (1 - beta1**t), sqrt(v / (1 - beta2**t)))
        moments = [(m, beta1 * m + (1 - beta1) * g), (v, beta2 * v + (1 - beta2) * g**2)]
        if per_element_only:
            return Spec(label, [*moments, (w, w - lr * step)], doc="Adam-atan2, for the printers' tests.")
        return Spec(label, [*moments, (r, atan2(norm(g), -8)),
                            (w, w - lr * (step + atan2(lr, -scale) * w / 8 + r * g / 8))],
                    doc="Adam-atan2 and atan2 in the host and per-tensor stages, for the printers' tests.")
    f = SYMPY[name]
    if per_element_only:
        return Spec(label, [(w, w - lr * f(g / scale))], doc=f"{name} per element, for the printers' tests.")
    return Spec(label, [(r, f(norm(g) / 8)), (w, w - lr * (f(g / scale) + f(lr) * w / 8 + r * g / 8))],
                doc=f"{name} in every stage, for the printers' tests.")


def hand_step(name: str, params, grads, state, t: int, hypers: dict):
    """One step of ``spec_using(name)`` on ``params`` (updated in place, in their dtype),
    computed in float64; returns the new state (None for the stateless specs)."""
    lr, scale = hypers["lr"], hypers["scale"]
    new_state = []
    for i, (p, gr) in enumerate(zip(params, grads)):
        w64, g64 = p.astype(np.float64), gr.astype(np.float64)
        g_norm = np.sqrt(np.sum(g64 * g64))
        if name == "atan2":
            b1, b2 = hypers["beta1"], hypers["beta2"]
            m, v = state[i] if state else (np.zeros_like(w64), np.zeros_like(w64))
            m = b1 * m + (1 - b1) * g64
            v = b2 * v + (1 - b2) * g64 * g64
            new_state.append((m, v))
            step = (np.arctan2(m / (1 - b1**t), np.sqrt(v / (1 - b2**t)))
                    + np.arctan2(lr, -scale) * w64 / 8 + np.arctan2(g_norm, -8.0) * g64 / 8)
        else:
            f = NUMPY[name]
            step = f(g64 / scale) + f(lr) * w64 / 8 + f(g_norm / 8) * g64 / 8
        p[...] = w64 - lr * step
    return new_state or None
