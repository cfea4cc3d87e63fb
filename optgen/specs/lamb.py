"""LAMB: Adam's step with a layer-wise trust ratio, in optax.lamb's form.

You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer & Hsieh (2020),
"Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR,
arXiv:1904.00962 (the blog post 'Some Deep Learning Optimizers': "the equivalent of LARS but with ADAM"). Per tensor::

    m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
    u = m_hat / (sqrt(v_hat) + eps) + wd w
    ratio = ||w|| / ||u||          (1 where ||w|| = 0 or ||u|| = 0)
    w = w - lr ratio u

as ``optax.lamb`` (scale_by_adam, add_decayed_weights, scale_by_trust_ratio,
scale_by_learning_rate; defaults eps 1e-6, weight_decay 0; the paper's clipping
function phi is the identity). The blog post 'Some Deep Learning Optimizers' writes the ratio's denominator
||r|| + ||wd w||; the paper and optax use ||r + wd w||, as here.

Two passes over memory: pass 0 updates m and v and sums w^2 and u^2; the ratio is
formed per tensor; pass 1 reloads w, m, v, recomputes u and writes w.
"""
from optgen.dsl import Spec, hyper, state, var, when, w, g, t, sqrt, norm, Eq

lr = hyper("lr", 1e-3, latex=r"\eta", domain="positive", doc="step size")
beta1 = hyper("beta1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="decay of the first moment")
beta2 = hyper("beta2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="decay of the second moment")
eps = hyper("eps", 1e-6, latex=r"\epsilon", domain="positive", doc="added to sqrt(v_hat)")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="decoupled weight decay inside the trust-ratio update")

m, v = state("m", 0), state("v", 0)
u, w_norm, u_norm, ratio = var("u"), var("w_norm"), var("u_norm"), var("ratio")

spec = Spec("lamb", [
    (m, beta1 * m + (1 - beta1) * g),
    (v, beta2 * v + (1 - beta2) * g**2),
    (u, (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + eps) + weight_decay * w),
    (w_norm, norm(w)),
    (u_norm, norm(u)),
    (ratio, when(Eq(w_norm, 0) | Eq(u_norm, 0), 1, w_norm / u_norm)),
    (w, w - lr * ratio * u),
], doc="LAMB: Adam's update scaled per tensor by the trust ratio ||w|| / ||u|| (optax's form).",
   references=["You et al. 2020, ICLR, arXiv:1904.00962", "optax.lamb"])
