"""An exponential moving average of the parameters, beside any optimizer.

objax's ``ExponentialMovingAverage`` (the objax optimizer docs)::

    m_t = mu m_{t-1} + (1 - mu) w_t          (m_0 = 0)
    averaged: m_t, or with debias  m_t / (1 - (1 - eps) mu^t)

The update is the compiled spec ``optgen/specs/ema.py`` (one pass: read w and m, write
m; the parameters are never written). This wrapper owns the step count and forms
the average on request::

    opt = optgen.create("adam", params)
    avg = optgen.ema(params, momentum=0.999, debias=True)
    for ...:
        opt.step(grads)
        avg.update()               # after each optimizer step
    weights = avg.averaged()       # new arrays; or avg.copy_to(other_arrays)
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

__all__ = ["ExponentialMovingAverage", "ema"]


class ExponentialMovingAverage:
    """EMA of ``params`` (a list of arrays that an optimizer updates in place)."""

    def __init__(self, params: Sequence, momentum=0.999, debias: bool = False, eps: float = 1e-6,
                 device: str = "cpu"):
        from .runtime.api import create
        self.params = list(params)
        if debias and not isinstance(momentum, numbers.Real):
            raise ValueError("optgen.ema: debias needs a constant momentum (it divides by 1 - (1 - eps) mu^t)")
        if not 0.0 <= float(eps) < 1.0:
            raise ValueError(f"optgen.ema: eps={eps!r} must be in [0, 1)")
        self.debias, self.eps = bool(debias), float(eps)
        self._opt = create("ema", self.params, device=device, momentum=momentum)

    @property
    def t(self) -> int:
        """How many updates the average has seen."""
        return self._opt.t

    @property
    def momentum(self):
        return self._opt.values["momentum"]

    def update(self) -> None:
        """Fold the parameters' current values into the average (after an optimizer step)."""
        self._opt.step(self.params)  # the kernel reads w and m; "g" is not read

    def debias_factor(self) -> float:
        """1 / (1 - (1 - eps) mu^t) with debias, else 1."""
        if not self.debias:
            return 1.0
        mu = float(self.momentum)
        return 1.0 / (1.0 - (1.0 - self.eps) * mu ** self.t)

    def _raw(self) -> list[np.ndarray]:
        return [st["m"] for st in self._opt.state_dict()["states"]]

    def averaged(self) -> list[np.ndarray]:
        """The averaged weights, as new arrays of the parameters' shapes and dtypes."""
        f = self.debias_factor()
        return [np.asarray(m * f, dtype=p.dtype).reshape(p.shape) for m, p in zip(self._raw(), self.params)]

    def copy_to(self, arrays: Sequence[np.ndarray]) -> None:
        """Write the averaged weights into ``arrays`` (e.g. an evaluation copy of the model)."""
        arrays = list(arrays)
        if len(arrays) != len(self.params):
            raise ValueError(f"optgen.ema.copy_to: got {len(arrays)} arrays for {len(self.params)} parameters")
        for dst, src in zip(arrays, self.averaged()):
            dst[...] = src

    def state_dict(self) -> dict:
        return {"ema": self._opt.state_dict(), "debias": self.debias, "eps": self.eps}

    def load_state_dict(self, sd: dict) -> None:
        self._opt.load_state_dict(sd["ema"])
        self.debias, self.eps = bool(sd["debias"]), float(sd["eps"])


def ema(params: Sequence, momentum=0.999, debias: bool = False, eps: float = 1e-6,
        device: str = "cpu") -> ExponentialMovingAverage:
    """An :class:`ExponentialMovingAverage` of ``params`` (objax's form; see the module doc)."""
    return ExponentialMovingAverage(params, momentum=momentum, debias=debias, eps=eps, device=device)
