"""ExponentialMovingAverage of the parameters, in objax's form (the objax optimizer docs).

Not an optimizer: it runs beside one. Each ``update`` after an optimizer step::

    m = mu m + (1 - mu) w          (m_0 = 0)

and the averaged weights are m, or with ``debias`` m / (1 - (1 - eps) mu^t)
(objax.optimizer.ExponentialMovingAverage; eps avoids a division by 0). The
parameters themselves are read, never written: one pass reads w and m and writes
m. Use it through ``optgen.ema(params, momentum=..., debias=...)``, which owns
the step count and forms the debiased average on request
(Polyak & Juditsky 1992, averaging of stochastic approximation).
"""
from optgen.dsl import Spec, hyper, state, w

momentum = hyper("momentum", 0.999, latex=r"\mu", domain="[0, 1)", doc="decay of the average")
m = state("m", 0, doc="the moving average of w (biased towards 0 without debiasing)")

spec = Spec("ema", [
    (m, momentum * m + (1 - momentum) * w),
    (w, w),
], doc="ExponentialMovingAverage of parameters (objax): m <- mu m + (1 - mu) w; w unchanged.",
   references=["objax.optimizer.ExponentialMovingAverage (the objax optimizer docs)",
               "Polyak & Juditsky 1992, SIAM J. Control Optim. 30(4):838-855"])
