"""Muon: momentum orthogonalised by a Newton–Schulz iteration, in torch.optim.Muon's form.

Jordan et al. (2024), "Muon: An optimizer for hidden layers in neural networks",
kellerjordan.github.io/posts/muon; as ``torch.optim.Muon`` (defaults lr 1e-3,
weight_decay 0.1, momentum 0.95, nesterov on, ns_coefficients (3.4445, -4.7750,
2.0315), eps 1e-7, ns_steps 5, adjust_lr_fn None). For each weight matrix W (an N-D
weight is its first dimension by the rest, as optax's muon reshapes it)::

    B = mu B + (1 - mu) g                          (torch: buf.lerp_(grad, 1 - momentum))
    U = (1 - mu) g + mu B  if nesterov  else  B     (torch: grad.lerp(buf, momentum))
    O = NS_5(U)                                     (Newton–Schulz, optgen/matrix.py)
    W = W (1 - lr weight_decay) - lr s(rows, cols) O
    s = max(1, rows / cols)^0.5   (adjust_lr_fn None or "original", Keller Jordan's)
    s = 0.2 max(rows, cols)^0.5   (adjust_lr_fn "match_rms_adamw", Moonshot's)

Two passes and a matrix step between them: pass 0 updates B and stores U into the
step's array; the step orthogonalises it (numpy matmul); pass 1 reads it and writes W.
torch runs the iteration in bfloat16; this spec runs it in the parameter's dtype
(float32 or float64), so its steps differ from torch's by bfloat16's rounding
(docs/matrix-steps.md). The iteration's constants (coefficients, eps, 5 steps) are
the spec's: another set is another spec. 1-D tensors are refused, as torch refuses them.
"""
from optgen.dsl import Max, Spec, cols, g, hyper, newton_schulz, option, rows, sqrt, state, var, w, when

lr = hyper("lr", 1e-3, latex=r"\gamma", domain="nonnegative", doc="learning rate")
weight_decay = hyper("weight_decay", 0.1, latex=r"\lambda", domain="nonnegative",
                     doc="decoupled weight decay (multiplied by lr, not by the shape factor)")
momentum = hyper("momentum", 0.95, latex=r"\mu", domain="[0, 1)", doc="momentum of the buffer")
nesterov = option("nesterov", True, doc="orthogonalise (1 - mu) g + mu B instead of B")
match_rms_adamw = option("match_rms_adamw", False,
                         doc="torch's adjust_lr_fn='match_rms_adamw': lr times 0.2 sqrt(max(rows, cols)) "
                             "instead of sqrt(max(1, rows/cols))")

momentum_buffer = state("momentum_buffer", 0, latex="B", doc="momentum buffer")
update, ortho, scale = var("update"), var("ortho"), var("scale")

spec = Spec("muon", [
    (momentum_buffer, momentum * momentum_buffer + (1 - momentum) * g),
    (update, when(nesterov, (1 - momentum) * g + momentum * momentum_buffer, momentum_buffer)),
    (ortho, newton_schulz(update, steps=5, coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7)),
    (scale, when(match_rms_adamw, 0.2 * sqrt(Max(rows, cols)), sqrt(Max(1, rows / cols)))),
    (w, w * (1 - lr * weight_decay) - lr * scale * ortho),
], doc="Muon: momentum orthogonalised by Newton–Schulz, per weight matrix (torch.optim.Muon's form).",
   references=["Jordan et al. 2024, kellerjordan.github.io/posts/muon", "torch.optim.Muon"])
