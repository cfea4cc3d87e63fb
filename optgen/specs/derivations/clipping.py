"""Derivations about clipping by the global norm (optgen.transforms.clip_by_global_norm; specs/adamw_clip.py).

A sum over every tensor is a new kind of step: its value exists only after a pass over
all of them. The claims check what the clip is for, from the spec's own equations (the
verifier unrolls one tensor, over which the global sum is the tensor's sum):

* with torch's and optax's formula, the clipped gradient's norm is min(||g||, max_norm):
  the factor c / ||g|| applies exactly when the norm exceeds c;
* with eps = 0 the factor never exceeds 1 and is positive, so clipping never flips
  or lengthens a gradient.

SymPy does not prove a Piecewise equal to a Min, so both are checked numerically (50-digit
values at random points on both sides of ||g|| = max_norm), and the report says so.
"""
import sympy

from optgen.dsl import hyper
from optgen.verify import Identity, Side
from optgen.verify.unroll import intermediate

OPTAX_FORM = Side("adamw_clip", hypers={"clip_eps": 0})
max_norm = hyper("max_norm", 1.0, latex="c", domain="positive")  # the spec's symbol (one object)


def _clipped_norm():
    return intermediate(OPTAX_FORM, "global_grad_norm") * intermediate(OPTAX_FORM, "clip_factor")


def _norm_or_max():
    return sympy.Min(intermediate(OPTAX_FORM, "global_grad_norm"), max_norm)


claims = [
    Identity(
        name="clip_by_global_norm_caps_the_norm", about=("adamw_clip",),
        source="optax.clip_by_global_norm; torch.nn.utils.clip_grad_norm_",
        statement="the clipped gradient's global norm, ||g|| * factor, is min(||g||, max_norm)",
        lhs=_clipped_norm, rhs=_norm_or_max),
    Identity(
        name="clip_by_global_norm_factor_in_0_1", about=("adamw_clip",), source="optax.clip_by_global_norm",
        statement="the clip factor is min(1, max_norm / ||g||): positive and at most 1",
        lhs=lambda: intermediate(OPTAX_FORM, "clip_factor"),
        rhs=lambda: sympy.Min(1, max_norm / intermediate(OPTAX_FORM, "global_grad_norm"))),
]
