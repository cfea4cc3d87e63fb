"""Adafactor: a factored second moment and a relative step size, in torch.optim.Adafactor's form.

Shazeer & Stern (2018), "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
ICML, arXiv:1804.04235. As ``torch.optim.Adafactor`` (defaults lr 1e-2, beta2_decay -0.8,
eps (None, 1e-3), d 1, weight_decay 0, maximize off; torch's eps1=None is the dtype's machine
epsilon: eps1 here defaults to float32's, give 2.220446049250313e-16 for torch's float64).
For a tensor of shape (..., R, C) with N elements, g negated when maximizing::

    beta2_t' = t^beta2_decay                     (torch's one_minus_beta2_t)
    rho = min(lr, 1 / sqrt(t));   alpha = max(eps2, rms(w)) rho      (rms(x) = sqrt(sum x^2 / N))
    w' = (1 - lr weight_decay) w
    factored:   r = (1 - beta2_t') r + beta2_t' row_mean(g^2)        (one per row, shape (..., R, 1))
                c = (1 - beta2_t') c + beta2_t' col_mean(g^2)        (one per column, (..., 1, C))
                vhat[i, j] = r[i] c[j] / max(mean_i r[i], eps1)
    otherwise:  v = (1 - beta2_t') v + beta2_t' g^2;   vhat = v
    u = g / sqrt(max(vhat, eps1^2))
    w = w' - alpha / max(1, rms(u) / d) u

A tensor is factored when it has two or more axes (torch factors the last two; leading ones
are batch axes): the per-tensor option ``factored``, set by the runtime from each tensor's
shape, so a 1-D tensor (a bias) keeps the full ``variance``. The mean of r over the rows is
``col_mean(r)``: the mean down a column of a value that is the same along each row.
"""
from optgen.dsl import Max, Min, Spec, col_mean, factored, g, hyper, option, row_mean, sqrt, state, t, tensor_sum, \
    var, w, when

lr = hyper("lr", 1e-2, latex=r"\eta", domain="nonnegative", doc="the most the relative step size may be")
beta2_decay = hyper("beta2_decay", -0.8, latex=r"\hat\beta_2", domain="(-inf, 0]",
                    doc="1 - beta2_t = t^beta2_decay: the second moment's decay")
eps1 = hyper("eps1", 1.1920928955078125e-07, latex=r"\epsilon_1", domain="positive",
             doc="floor of the second moment (squared) and of its row mean; torch: the dtype's machine epsilon")
eps2 = hyper("eps2", 1e-3, latex=r"\epsilon_2", domain="positive", doc="floor of rms(w) in the step size")
d = hyper("d", 1.0, latex="d", domain="[1, inf)", doc="clipping threshold of rms(u) (torch: at least 1)")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative", doc="decoupled weight decay")
maximize = option("maximize", False, doc="ascend the objective (g is negated)")
is_factored = factored("factored", min_dim_size_to_factor=1,
                       doc="factor the second moment over the last two axes (every tensor of two or more axes)")

row_var = state("row_var", 0, latex="r", doc="EMA of the rows' mean of g^2 (factored tensors)", shape="row")
col_var = state("col_var", 0, latex="c", doc="EMA of the columns' mean of g^2 (factored tensors)", shape="col")
variance = state("variance", 0, latex="v", doc="EMA of g^2 (tensors that are not factored)")
gs, b2, rho, n, alpha, decayed, vhat, u, denom = (
    var("gs"), var("b2"), var("rho"), var("n"), var("alpha"), var("decayed"), var("vhat"), var("u"), var("denom"))

spec = Spec("adafactor", [
    (gs, when(maximize, -g, g)),
    (b2, t**beta2_decay),
    (rho, Min(lr, 1 / sqrt(t))),
    (n, tensor_sum(1)),
    (alpha, Max(eps2, sqrt(tensor_sum(w**2) / n)) * rho),
    (decayed, (1 - lr * weight_decay) * w),
    (row_var, when(is_factored, (1 - b2) * row_var + b2 * row_mean(gs**2), row_var)),
    (col_var, when(is_factored, (1 - b2) * col_var + b2 * col_mean(gs**2), col_var)),
    (variance, when(is_factored, variance, (1 - b2) * variance + b2 * gs**2)),
    (vhat, when(is_factored, row_var * col_var / Max(col_mean(row_var), eps1), variance)),
    (u, gs / sqrt(Max(vhat, eps1**2))),
    (denom, Max(1, sqrt(tensor_sum(u**2) / n) / d)),
    (w, decayed - alpha / denom * u),
], doc="Adafactor: factored second moment, relative step size, update clipping (torch.optim.Adafactor's form).",
   references=["Shazeer & Stern 2018, ICML, arXiv:1804.04235", "torch.optim.Adafactor"])
