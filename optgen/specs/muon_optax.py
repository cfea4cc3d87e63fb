"""Muon in optax.contrib.muon's form: Muon for the matrices, Adam for the other tensors, in one optimizer.

Jordan et al. (2024), "Muon: An optimizer for hidden layers in neural networks",
kellerjordan.github.io/posts/muon; as ``optax.contrib.muon`` (optax 0.2.8; defaults ns_coeffs
(3.4445, -4.7750, 2.0315), ns_steps 5, beta 0.95, eps 1e-8, weight_decay 0, nesterov on,
adaptive off, preconditioning "frobenius", adam_b1 0.9, adam_b2 0.999, adam_eps_root 0,
adam_weight_decay 0, adam_learning_rate None, consistent_rms None). optax partitions the
parameters: a matrix takes the chain scale_by_muon, scale_by_shape, add_decayed_weights,
scale_by_learning_rate; every other tensor takes optax.adamw with the same eps and nesterov.
Here the per-tensor option ``is_matrix`` (set from each tensor's shape: two or more axes) picks
the branch; each value is its own module, so a vector has no matrix step and a matrix no nu.
With t the step (optax's count after the increment) and b = beta for a matrix, adam_b1 otherwise::

    mu = b mu + (1 - b) g
    u = b mu / (1 - b^(t+1)) + (1 - b) g / (1 - b^t)  if nesterov  else  mu / (1 - b^t)
  matrices (rows x cols: the first axis by the product of the others, fan_in x fan_out):
    O = NS_5(u / (||u||_F + eps))                     (optax's frobenius preconditioning)
    O = <u, O>_F O                                    (option adaptive, Bernstein et al. 2024)
    s = (max(rows, cols) / rows)^0.5                  (scale_by_shape: sqrt(max(1, fan_out / fan_in)))
    s = consistent_rms_scale max(rows, cols)^0.5      (option consistent_rms, Liu et al. 2025)
    w = w - lr (s O + weight_decay w)
  other tensors (optax.adamw):
    nu = adam_b2 nu + (1 - adam_b2) g^2
    w = w - lr adam_lr_ratio (u / (sqrt(nu / (1 - adam_b2^t) + adam_eps_root) + eps) + adam_weight_decay w)

NS_5 is optgen's newton_schulz (optgen/matrix.py), which divides by max(||X||_F, eps_ns); optax
divides by ||X||_F + eps. The spec divides by ||u||_F + eps itself and gives newton_schulz
eps_ns = 1: the norm of u / (||u||_F + eps) is below 1, so the second division is by 1 exactly
(by a norm within a few roundings of 1 where eps is below the rounding of ||u||_F): optax's
normalisation, not an approximation of it. The scale is optax's sqrt(max(1, cols / rows)), the
transpose of torch.optim.Muon's sqrt(max(1, rows / cols)) (optax's matrix is fan_in x fan_out,
torch's weight out x in), written sqrt(max(rows, cols) / rows): the same number, and no
ZeroDivisionError in the oracle for an empty matrix of 0 rows (optax raises one there);
optgen/specs/muon.py is torch's form. optax computes Adam's bias corrections 1 - b^t in float32 for
float32 parameters (1 - 0.999^150 is 2e-5 off); here every host value is float64, so float32 vectors
differ from optax by ~2e-6 of their size after 150 steps (tests/test_optax_muon.py).

Differences, stated. optax's default rule sends only 2-D tensors to Muon (``x.ndim == 2``):
a tensor of three or more axes goes to Adam there, and to Muon here, as its first axis by the
rest (optax's muon_weight_dimension_numbers MuonDimensionNumbers(0, (1, ..., n - 1)) for it gives
the same steps; the spec language has no test of the number of axes). lr has no default in optax
(learning_rate is required); 0.02 here, Keller Jordan's. optax's adam_learning_rate is a second
learning rate (None: the same as learning_rate); here it is lr adam_lr_ratio (ratio 1 is None,
a / lr is adam_learning_rate=a), so that changing lr moves both, as optax's default does. Not
here: other ns_coeffs (the "dion" preset, one triple per step) and ns_steps (another spec),
preconditioning other than "frobenius", mu_dtype (the states have the parameter's dtype),
weight_decay_mask, custom muon_weight_dimension_numbers, schedules of two learning rates.
"""
from optgen.dsl import Max, Spec, cols, factored, g, hyper, newton_schulz, option, rows, sqrt, state, t, \
    tensor_sum, var, w, when

lr = hyper("lr", 0.02, latex=r"\eta", domain="nonnegative",
           doc="learning rate of both branches (optax's learning_rate; required there)")
beta = hyper("beta", 0.95, latex=r"\beta", domain="[0, 1)", doc="decay of the momentum of the matrices")
eps = hyper("eps", 1e-8, latex=r"\epsilon", domain="positive",
            doc="added to the Frobenius norm of u before Newton-Schulz, and to Adam's denominator (optax: one eps for both)")
weight_decay = hyper("weight_decay", 0.0, latex=r"\lambda", domain="nonnegative",
                     doc="weight decay of the matrices, added to the update before lr (so multiplied by lr)")
consistent_rms_scale = hyper("consistent_rms_scale", 0.2, latex=r"\rho", domain="positive",
                             doc="the value of optax's consistent_rms, with the option consistent_rms "
                                 "(0.2: AdamW's rms)")
adam_b1 = hyper("adam_b1", 0.9, latex=r"\beta_1", domain="[0, 1)", doc="Adam's first-moment decay (non-matrices)")
adam_b2 = hyper("adam_b2", 0.999, latex=r"\beta_2", domain="[0, 1)", doc="Adam's second-moment decay (non-matrices)")
adam_eps_root = hyper("adam_eps_root", 0.0, latex=r"\epsilon_r", domain="nonnegative",
                      doc="added to Adam's debiased second moment inside the square root")
adam_weight_decay = hyper("adam_weight_decay", 0.0, latex=r"\lambda_a", domain="nonnegative",
                          doc="weight decay of the non-matrices, added to Adam's update before its lr")
adam_lr_ratio = hyper("adam_lr_ratio", 1.0, latex=r"r_a", domain="nonnegative",
                      doc="Adam's learning rate is lr adam_lr_ratio (optax's adam_learning_rate None: 1; "
                          "adam_learning_rate=a: a / lr)")
nesterov = option("nesterov", True, doc="Nesterov momentum, debiased as optax's, in both branches")
adaptive = option("adaptive", False, doc="scale the orthogonalised update by <u, O>_F (optax's adaptive)")
consistent_rms = option("consistent_rms", False,
                        doc="scale by consistent_rms_scale sqrt(max(rows, cols)) instead of "
                            "sqrt(max(1, cols / rows)) (optax's consistent_rms not None)")
is_matrix = factored("is_matrix", min_dim_size_to_factor=1,
                     doc="Muon for tensors of two or more axes (first axis by the rest), Adam for the others "
                         "(optax: Muon for 2-D tensors)")

mu = state("mu", 0, latex=r"\mu", doc="EMA of g: Muon's momentum (beta) or Adam's first moment (adam_b1)")
nu = state("nu", 0, latex=r"\nu", doc="Adam's EMA of g^2 (non-matrices)")
b, u, ortho, direction, scale, step = var("b"), var("u"), var("ortho"), var("direction"), var("scale"), var("step")

spec = Spec("muon_optax", [
    (b, when(is_matrix, beta, adam_b1)),
    (mu, b * mu + (1 - b) * g),
    (nu, when(is_matrix, nu, adam_b2 * nu + (1 - adam_b2) * g**2)),
    (u, when(nesterov, b * mu / (1 - b**(t + 1)) + (1 - b) * g / (1 - b**t), mu / (1 - b**t))),
    (ortho, when(is_matrix, newton_schulz(u / (sqrt(tensor_sum(u**2)) + eps), steps=5,
                                          coefficients=(3.4445, -4.7750, 2.0315), eps=1.0), 0)),
    (direction, when(adaptive, tensor_sum(u * ortho) * ortho, ortho)),
    (scale, when(consistent_rms, consistent_rms_scale * sqrt(Max(rows, cols)), sqrt(Max(rows, cols) / rows))),
    (step, when(is_matrix, lr * (scale * direction + weight_decay * w),
                lr * adam_lr_ratio * (u / (sqrt(nu / (1 - adam_b2**t) + adam_eps_root) + eps)
                                      + adam_weight_decay * w))),
    (w, w - step),
], doc="Muon for matrices, Adam for the other tensors (optax.contrib.muon's form).",
   references=["Jordan et al. 2024, kellerjordan.github.io/posts/muon", "optax.contrib.muon",
               "Bernstein & Newhouse 2024, arXiv:2409.20325 (adaptive)", "Liu et al. 2025, arXiv:2502.16982 "
               "(consistent_rms)"])
