"""RAdam: Adam with the variance of the adaptive step rectified, in torch.optim.RAdam's form.

Liu, Jiang, He, Chen, Liu, Gao & Han (2020), "On the Variance of the Adaptive
Learning Rate and Beyond", ICLR, arXiv:1908.03265 (the blog post 'Some Deep Learning Optimizers', "Radam"; the lecture notes on optimizers).

    rho_inf = 2 / (1 - beta2) - 1          the largest length of the approximated SMA
    rho_t   = rho_inf - 2 t beta2^t / (1 - beta2^t)
    r_t     = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
    if rho_t > rho_threshold:  w <- w - lr r_t m_hat sqrt(1 - beta2^t) / (sqrt(v) + eps)
    else:                      w <- w - lr m_hat            (un-rectified: SGD with momentum)

The paper's Algorithm 2 (and the blog post 'Some Deep Learning Optimizers') take the rectified branch when rho_t > 4;
torch.optim.RAdam (and the authors' code) use 5, "more conservative since it is an
approximated value": ``rho_threshold`` is that number, default 5 as torch (any
value >= 4 keeps r_t real). rho_t and the test depend only on t and beta2: they
are decided on the host once per step and select a kernel, never a per-element
branch. eps is added to sqrt(v) (not to sqrt(v_hat)), as torch does.

Weight decay as torch: an L2 term added to the gradient, or with the option
``decoupled_weight_decay`` (torch's flag of the same name) w <- w (1 - lr wd)
beside the update. RAdamW is ``specs/radamw.py``.
"""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive", doc="added to sqrt(v)")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="L2 penalty added to the gradient (decoupled with the option)")
rho_threshold = hyper("rho_threshold", 5.0, latex=r"\rho_{min}", domain="[4, inf)",
                      doc="rectify when rho_t > rho_threshold (torch: 5; the paper: 4)")
decoupled = option("decoupled_weight_decay", False,
                   doc="decay the weights, w <- w (1 - lr weight_decay), instead of adding an L2 gradient")

m, v = state("m", 0), state("v", 0)
d, m_hat, rho_inf, rho_t, r_t, w0 = var("d"), var("m_hat"), var("rho_inf"), var("rho_t"), var("r_t"), var("w0")

spec = Spec("radam", [
    (d, when(decoupled, g, g + weight_decay * w)),
    (w0, when(decoupled, w * (1 - lr * weight_decay), w)),
    (m, beta1 * m + (1 - beta1) * d),
    (v, beta2 * v + (1 - beta2) * d**2),
    (m_hat, m / (1 - beta1**t)),
    (rho_inf, 2 / (1 - beta2) - 1),
    (rho_t, rho_inf - 2 * t * beta2**t / (1 - beta2**t)),
    (r_t, sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))),
    (w, when(rho_t > rho_threshold,
             w0 - lr * r_t * m_hat * sqrt(1 - beta2**t) / (sqrt(v) + eps),
             w0 - lr * m_hat)),
], doc="RAdam: Adam with the variance of its adaptive step rectified (SGD with momentum until rho_t > 5).",
   references=["Liu et al. 2020, ICLR, arXiv:1908.03265", "torch.optim.RAdam"])
