"""Schedules: a hyperparameter's value as a function of the step.

Any real hyperparameter of any optimizer takes a schedule in place of a number::

    from optgen import schedules
    opt = optgen.create("adam", params, lr=schedules.WarmupCosine(1e-3, warmup_steps=100, decay_steps=10_000))

A schedule is a SymPy expression in the step ``t`` (``.expr``, shown by
``.latex()`` and in docs) and ``.value(t)``, evaluated on the host once per step
in float64 — the host stage — and passed to the kernels as an argument: a schedule
never changes a kernel. A hyperparameter's domain is checked at every step, and
over the schedule's course when it is given (its first 1024 steps and both sides
of every corner of its formula, ``check_steps()``). A scheduled value may also be
exactly 0 where 0 is an open end of the domain: a warm-up from ``lr = 0`` or a
decay to 0 is fine, a negative learning rate is not (``optgen.runtime.hypers``).

Step convention: ``t`` is optgen's 1-based step; a schedule is written in
``n = t - 1``, the number of steps already taken, so the first step uses the
value at ``n = 0`` — as torch.optim.lr_scheduler (whose ``last_epoch`` counts the
``scheduler.step()`` calls before an optimizer step) and optax (``count``). With
``steps_per_epoch = S`` the unit is an epoch: ``n = floor((t - 1) / S)``, as a
torch scheduler stepped once per epoch.

Shipped (the lecture notes on optimizers, "Learning Rate Schedules", and the usual ones):

=========================  ==========================================================
``Constant(v)``            v
``PiecewiseConstant``      a value per interval of epochs (torch MultiStepLR, optax piecewise_constant)
``Exponential(v0, r)``     v0 exp(-n / r)                     (the lecture notes on optimizers; torch ExponentialLR with gamma = e^(-1/r))
``Reciprocal(v0, r, c)``   v0 (1 + n / r)^(-c)                (the lecture notes on optimizers)
``LinearWarmup``           v0 + (v1 - v0) min(n, W) / W       (optax linear_schedule, torch LinearLR)
``PolynomialDecay``        (v0 - v1) (1 - min(n, T) / T)^p + v1  (LARS: p = 2; optax polynomial_schedule, torch PolynomialLR)
``WarmupCosine``           linear warmup, then cosine decay   (optax warmup_cosine_decay_schedule)
``ExponentialGrowth``      v0 q^n; ``.equivalent_to_weight_decay(lr, wd, momentum)``: the note on exponential learning rates; Li & Arora
``Expression(expr)``       any SymPy expression in ``t`` (``StepExpression``: in ``n``); schedules multiply: ``LinearWarmup(...) * Exponential(...)``
``ReduceOnPlateau``        performance-dependent (the lecture notes on optimizers): multiply by ``factor`` when a metric stops improving
=========================  ==========================================================

``ReduceOnPlateau`` is driven by the metric values the user reports
(``sched.observe(metric)``, or ``optgen.schedules.report(opt, metric)`` for
every such schedule of an optimizer); its state is plain attributes, so it is in
the optimizer's ``state_dict`` (under ``hypers``) and restored by
``load_state_dict``.
"""
from __future__ import annotations

from .core import (Constant, Exponential, ExponentialGrowth, Expression, LinearWarmup, N, PiecewiseConstant,
                   PolynomialDecay, Reciprocal, Schedule, StepExpression, WarmupCosine, steps_done)
from .plateau import ReduceOnPlateau, report

__all__ = [
    "Schedule", "Constant", "PiecewiseConstant", "Exponential", "Reciprocal", "LinearWarmup",
    "PolynomialDecay", "WarmupCosine", "ExponentialGrowth", "Expression", "StepExpression",
    "ReduceOnPlateau", "report", "steps_done", "N",
]

