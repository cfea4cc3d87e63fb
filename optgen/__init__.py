"""optgen: optimizers compiled from their equations.

    import optgen
    optgen.names()
    opt = optgen.create("adam", params, lr=1e-3)
    opt.step(grads)
"""
from __future__ import annotations

from ._version import __version__

from .registry import load_spec, names
from .spec import Spec, SpecError
from .reference import reference


def create(name, params, device: str = "cpu", **hypers):
    """An optimizer that updates ``params`` (a list of arrays) in place on each ``step(grads)``."""
    from .runtime.api import create as _create
    return _create(name, params, device=device, **hypers)


def ema(params, momentum=0.999, debias: bool = False, eps: float = 1e-6, device: str = "cpu"):
    """An exponential moving average of ``params`` beside any optimizer (objax's form):
    ``.update()`` after each step, ``.averaged()`` for the averaged weights."""
    from .averaging import ema as _ema
    return _ema(params, momentum=momentum, debias=debias, eps=eps, device=device)


__all__ = ["create", "reference", "ema", "load_spec", "names", "Spec", "SpecError", "__version__"]
