"""Adafactor in optax.adafactor's form: a factored second moment, update clipping, a step scaled by rms(w).

Shazeer & Stern (2018), "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost",
ICML, arXiv:1804.04235. As ``optax.adafactor`` (defaults min_dim_size_to_factor 128;
decay_rate 0.8; decay_offset 0; multiply_by_parameter_scale on; clipping_threshold 1; momentum
None; weight_decay_rate None; eps 1e-30; factored on; learning_rate None: see below), the chain
scale_by_factored_rms, clip_by_block_rms, scale_by_learning_rate, scale_by_param_block_rms,
ema (momentum, not debiased), add_decayed_weights, scale(-1). For a tensor of N elements::

    beta_t = 1 - (t - decay_offset)^(-decay_rate)         (optax's count is t - 1)
    s = g^2 + eps
    factored:   r = beta_t r + (1 - beta_t) row_mean(s)        (one per row, shape (..., R, 1))
                c = beta_t c + (1 - beta_t) col_mean(s)        (one per column, (..., 1, C))
                u = g / sqrt(r[i] c[j] / mean_i r[i])
    otherwise:  v = beta_t v + (1 - beta_t) s;   u = g / sqrt(v)
    u = u / max(1, rms(u) / clipping_threshold)            (option clipping; rms(x) = sqrt(sum x^2 / N))
    u = lr max(rms(w), min_scale) u                        (option multiply_by_parameter_scale; else lr u)
    m = momentum m + (1 - momentum) u;  u = m              (option use_momentum: optax's momentum=...)
    w = w - (u + weight_decay_rate w)

optax returns the update to add (the negation of the bracket) and optax.apply_updates adds it;
weight decay is added after the learning rate, so it is not multiplied by lr. One default
differs: optax's learning_rate is None (no scaling, lr = 1: each step moves w by about its own
rms, so rms(w) grows by about sqrt(2) a step under random gradients); lr here defaults to 1e-2,
the paper's largest relative step size (rho_t = min(1e-2, 1 / sqrt(t))). Give lr=1.0 for
optax.adafactor().

Which tensors are factored, and over which axes. optax factors a tensor whose second-largest
dimension is at least min_dim_size_to_factor, over its two largest axes (numpy's argsort of the
shape: d0 the largest, d1 the second; v_row is the mean over d0, v_col over d1, and the estimate
is v_row v_col / mean(v_row)). This spec factors over the last two axes, where both are at least
128 long (the per-tensor option ``factored``), leading axes being batch axes. For a 2-D tensor
the two agree: both reduce the same two axes, and whichever of them optax calls a row,
v_row v_col / mean(v_row) is r[i] c[j] / mean_i r[i] (the mean of r over the rows and the mean
of c over the columns are both the EMA of mean(s)); so they do for an N-D tensor whose two
largest dimensions are its last two, such as (2, 130, 140), and for every tensor that neither
factors (1-D tensors; a (64, 32, 3, 3) convolution kernel at the default 128). Known limit: a
tensor whose two largest dimensions are not its last two and whose second-largest is at least
128 gets another estimate here: a convolution kernel (256, 128, 3, 3) and a (130, 4, 140) are
factored by optax (over axes 0 and 1; over axes 0 and 2, axis 1 being the batch axis) and keep
the full second moment here (their last two axes are short), and a (200, 130, 140) is factored
over axes 0 and 2 by optax and over axes 1 and 2 here. The spec language reduces over the last
two axes only. Transpose such a weight so that its two largest axes come last to get optax's
steps (tests/test_optax_adafactor.py shows it for the first two).

Not here: optax's factored=False (no tensor factored; it could be a build-time option and-ed
with the per-tensor one, left out so as not to double the 16 modules), weight_decay_mask (weight
decay applies to every tensor), dtype_momentum (optax keeps the momentum in float32 by default,
even for float64 parameters; here it has the parameter's dtype), and optax's float32 rounding of
beta_t (optax computes 1 - t^-0.8 in float32 even under jax_enable_x64; here it is float64, as
every host value: float64 steps differ from optax's by ~2e-8 after 150 steps).
"""
from optgen.dsl import Max, Spec, col_mean, factored, g, hyper, option, row_mean, sqrt, state, t, tensor_sum, \
    var, w, when

lr = hyper("lr", 1e-2, latex=r"\eta", domain="nonnegative",
           doc="step size, or relative step size with multiply_by_parameter_scale (optax's learning_rate; "
               "optax's default None is lr=1.0)")
decay_rate = hyper("decay_rate", 0.8, latex=r"\gamma", domain="nonnegative",
                   doc="beta_t = 1 - (t - decay_offset)^(-decay_rate): the second moment's decay")
decay_offset = hyper("decay_offset", 0.0, latex=r"t_0", domain="nonnegative",
                     doc="step at which fine-tuning started (optax's decay_offset): t must stay above it")
eps = hyper("eps", 1e-30, latex=r"\epsilon", domain="positive", doc="added to g^2 before it is averaged")
clipping_threshold = hyper("clipping_threshold", 1.0, latex="d", domain="[1, inf)",
                           doc="largest rms of the update before the step size, with the option clipping "
                               "(optax: must be >= 1)")
min_scale = hyper("min_scale", 1e-3, latex=r"\epsilon_2", domain="positive",
                  doc="floor of rms(w) in the step size (optax's scale_by_param_block_rms min_scale)")
momentum = hyper("momentum", 0.9, latex=r"\beta_1", domain="[0, 1]",
                 doc="decay of the EMA of the updates (with the option use_momentum)")
weight_decay_rate = hyper("weight_decay_rate", 0.0, latex=r"\lambda", domain="nonnegative",
                          doc="weight decay added to the update after the step size (not multiplied by lr)")
clipping = option("clipping", True, doc="clip the update to rms clipping_threshold (optax: clipping_threshold "
                                        "not None)")
multiply_by_parameter_scale = option("multiply_by_parameter_scale", True,
                                     doc="scale the step by max(rms(w), min_scale)")
use_momentum = option("use_momentum", False, doc="an EMA of the updates, not debiased (optax: momentum not None)")
is_factored = factored("factored", min_dim_size_to_factor=128,
                       doc="factor the second moment over the last two axes (tensors of two or more axes whose "
                           "last two are at least 128 long; optax: min_dim_size_to_factor)")

v_row = state("v_row", 0, latex="r", doc="EMA of the rows' mean of g^2 + eps (factored tensors)", shape="row")
v_col = state("v_col", 0, latex="c", doc="EMA of the columns' mean of g^2 + eps (factored tensors)", shape="col")
v = state("v", 0, latex="v", doc="EMA of g^2 + eps (tensors that are not factored)")
m = state("m", 0, latex="m", doc="EMA of the updates (with use_momentum)")
beta, s, n, u, denom, scale, step, upd = (
    var("beta"), var("s"), var("n"), var("u"), var("denom"), var("scale"), var("step"), var("upd"))

spec = Spec("adafactor_optax", [
    (beta, 1 - (t - decay_offset)**(-decay_rate)),
    (s, g**2 + eps),
    (n, tensor_sum(1)),
    (v_row, when(is_factored, beta * v_row + (1 - beta) * row_mean(s), v_row)),
    (v_col, when(is_factored, beta * v_col + (1 - beta) * col_mean(s), v_col)),
    (v, when(is_factored, v, beta * v + (1 - beta) * s)),
    (u, when(is_factored, g / sqrt(v_row * v_col / col_mean(v_row)), g / sqrt(v))),
    (denom, when(clipping, Max(1, sqrt(tensor_sum(u**2) / n) / clipping_threshold), 1)),
    (scale, when(multiply_by_parameter_scale, lr * Max(sqrt(tensor_sum(w**2) / n), min_scale), lr)),
    (step, scale * u / denom),
    (m, when(use_momentum, momentum * m + (1 - momentum) * step, m)),
    (upd, when(use_momentum, m, step)),
    (w, w - (upd + weight_decay_rate * w)),
], doc="Adafactor: factored second moment, update clipping, step scaled by rms(w) (optax.adafactor's form).",
   references=["Shazeer & Stern 2018, ICML, arXiv:1804.04235", "optax.adafactor"])
