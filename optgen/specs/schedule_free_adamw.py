"""Schedule-Free AdamW (Defazio et al. 2024), in optax.contrib.schedule_free_adamw's form.

"The Road Less Scheduled" (arXiv:2405.15682). No momentum and no decaying
schedule: three sequences instead, of which two are stored. ``z`` takes
plain (momentum-free, bias-corrected RMS-preconditioned) AdamW steps; ``x`` is a
weighted average of the z's, the point to evaluate the model at; the gradient
is taken at ``y``, an interpolation of the two. Here the parameters ``w`` are
optax's ``params``, y: the point the gradient ``g`` is taken at::

    x_prev = (w - (1 - beta1) z) / beta1            (x recomputed from y and z, as optax does)
    nu    <- beta2 nu + (1 - beta2) g^2
    z     <- z - lr_{t-1} (g / (sqrt(nu / (1 - beta2^t)) + eps) + lambda w)
    c_t    = max_lr^p / sum_{k<=t} max_lr_k^p       (max_lr = max_{k<=t} lr_k, p = weight_lr_power)
    x      = (1 - c_t) x_prev + c_t z
    w     <- beta1 x + (1 - beta1) z

z starts at the parameters (so x does too). With ``warmup_steps = W > 0`` the
learning rate warms up linearly from 0, optax's warmup_constant_schedule:
lr_k = lr min(k, W) / W. optax evaluates that schedule at two counts: the AdamW
step of step t uses lr_{t-1} (optax.scale_by_learning_rate counts from 0) and the
averaging weight uses lr_t (schedule_free's step_count starts at 1); both are
written here as optax has them. ``max_lr`` and ``weight_sum`` are scalar states,
updated once per step on the host in float64. c_t is 0 while the sum is 0, as
optax's nan_to_num makes it: the divisor is held at least 1e-300, below the square
of any learning rate in use. With an optgen schedule given for ``lr`` instead
(and ``warmup_steps = 0``), both uses see the schedule's value at this step, at
n = t - 1 (optax's general schedule_free evaluates its averaging weight's
schedule one count later).

The evaluation parameters (optax.contrib.schedule_free_eval_params) are x, which
costs no buffer: it is recomputed from the parameters and z, as optax does::

    sd = opt.state_dict()
    x = [(w - (1 - beta1) * s["z"]) / beta1 for w, s in zip(params, sd["states"])]

(through optgen.torch: ``opt = optgen.torch.Optimizer(params, "schedule_free_adamw")``,
then ``x = (p - (1 - beta1) * opt.state[p]["z"]) / beta1``.)
"""
from optgen.dsl import Spec, hyper, state, var, when, w, g, t, sqrt, Eq, Max, Min

lr = hyper("lr", 2.5e-3, latex=r"\eta", domain="positive", doc="peak step size (of z's AdamW steps)")
warmup_steps = hyper("warmup_steps", 0, latex="W", domain="nonnegative_integer",
                     doc="length of the linear warm-up of lr from 0 (0: none)")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="(0, 1)",
              doc="interpolation: y = beta1 x + (1 - beta1) z")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="weight decay at y, scaled by lr")
weight_lr_power = hyper("weight_lr_power", 2.0, latex="p", domain="nonnegative",
                        doc="the average weights step t by max_lr^p")

z = state("z", w, doc="the AdamW iterate (starts at the parameters)")
nu = state("nu", 0, latex=r"\nu", doc="second moment")
max_lr = state("max_lr", 0, latex=r"\eta_{max}", doc="the largest lr so far (a host scalar)")
weight_sum = state("weight_sum", 0, latex=r"\Sigma", doc="the sum of the averaging weights (a host scalar)")
lr_avg, lr_step, weight, c = var("lr_avg"), var("lr_step"), var("weight"), var("c")
x_prev, x = var("x_prev"), var("x")

spec = Spec("schedule_free_adamw", [
    (lr_avg, when(Eq(warmup_steps, 0), lr, lr * Min(t, warmup_steps) / Max(warmup_steps, 1))),
    (lr_step, when(Eq(warmup_steps, 0), lr, lr * Min(t - 1, warmup_steps) / Max(warmup_steps, 1))),
    (max_lr, Max(max_lr, lr_avg)),
    (weight, max_lr**weight_lr_power),
    (weight_sum, weight_sum + weight),
    (c, weight / Max(weight_sum, 1e-300)),  # a sum of 0 has weight 0: c = 0, not 0/0
    (x_prev, (w - (1 - beta1) * z) / beta1),
    (nu, beta2 * nu + (1 - beta2) * g**2),
    (z, z - lr_step * (g / (sqrt(nu / (1 - beta2**t)) + eps) + weight_decay * w)),
    (x, (1 - c) * x_prev + c * z),
    (w, beta1 * x + (1 - beta1) * z),
], doc="Schedule-Free AdamW: interpolation and averaging in place of momentum and a decaying schedule "
       "(optax.contrib's form).",
   references=["Defazio et al. 2024, The Road Less Scheduled, arXiv:2405.15682",
               "optax.contrib.schedule_free_adamw"])
