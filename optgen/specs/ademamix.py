"""AdEMAMix: Adam with a mixture of a fast and a slow EMA (Pagliardini et al. 2024), in optax.contrib.ademamix's form.

"The AdEMAMix Optimizer: Better, Faster, Older" (arXiv:2409.03137). Adam's
first moment m1 (decay beta1) is joined by a slow EMA m2 of the gradient (decay
beta3, close to 1) that remembers gradients thousands of steps old; the update
mixes the two with weight alpha::

    m1 <- beta1 m1 + (1 - beta1) g
    m2 <- beta3 m2 + (1 - beta3) g
    nu <- beta2 nu + (1 - beta2) g^2
    w  <- w - lr ((m1_hat + alpha m2) / (sqrt(nu_hat + eps_root) + eps) + lambda w)

with m1_hat = m1 / (1 - beta1^t), nu_hat = nu / (1 - beta2^t); the slow EMA is
not bias-corrected (it is meant to fill slowly). The weight decay is optax's
add_decayed_weights, scaled by lr, added to the update (not divided by 1 + lr lambda).

Warm-ups of alpha and beta3. The paper warms both up over T_alpha_beta3 steps
(alpha linearly from 0; beta3 from beta1 with its half-life log(1/2) / log(beta3)
linear in t, i.e. 1/log(beta3) linear in t, capped at beta3); optax
takes any schedule for ``alpha`` and ``b3`` and evaluates it at count_m2, the
number of steps already taken. Here they are optgen schedules: any
hyperparameter takes one, evaluated on the host at n = t - 1, optax's count, so
the kernel is the same as for constants::

    from optgen import schedules
    from optgen.schedules import N
    import sympy
    T, a, b1, b3 = 10_000, 5.0, 0.9, 0.9999
    alpha = schedules.LinearWarmup(a, T)                      # min(n, T) a / T
    beta3 = schedules.StepExpression(sympy.Min(sympy.exp(
        sympy.log(b1) * sympy.log(b3)
        / ((1 - N / T) * sympy.log(b3) + N / T * sympy.log(b1))), b3))
    opt = optgen.create("ademamix", params, alpha=alpha, beta3=beta3)
"""
from optgen.dsl import Spec, hyper, state, w, g, t, sqrt

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the fast EMA")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
beta3 = hyper("beta3", 0.9999, latex=r"\beta_3", domain="[0, 1)",
              doc="decay of the slow EMA (may be a schedule: the paper's warm-up)")
alpha = hyper("alpha", 5.0, latex=r"\alpha", domain="nonnegative",
              doc="weight of the slow EMA (may be a schedule: the paper's warm-up)")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to the denominator")
eps_root = hyper("eps_root", 0.0, latex=r"\epsilon_{root}", domain="nonnegative", doc="added under the square root")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative", doc="weight decay, scaled by lr")

m1 = state("m1", 0, latex=r"m_1", doc="fast EMA of the gradient")
m2 = state("m2", 0, latex=r"m_2", doc="slow EMA of the gradient (not bias-corrected)")
nu = state("nu", 0, latex=r"\nu", doc="second moment")

spec = Spec("ademamix", [
    (m1, beta1 * m1 + (1 - beta1) * g),
    (m2, beta3 * m2 + (1 - beta3) * g),
    (nu, beta2 * nu + (1 - beta2) * g**2),
    (w, w - lr * ((m1 / (1 - beta1**t) + alpha * m2) / (sqrt(nu / (1 - beta2**t) + eps_root) + eps)
                  + weight_decay * w)),
], doc="AdEMAMix: Adam with a mixture of a fast and a slow EMA of the gradient (optax.contrib's form).",
   references=["Pagliardini, Ablin & Grangier 2024, The AdEMAMix Optimizer: Better, Faster, Older, "
               "arXiv:2409.03137", "optax.contrib.ademamix"])
