"""AdamW on the gradient clipped to global norm 1: the step of most transformer training recipes.

``clip_by_global_norm(adamw, max_norm=1.0)``, as ``optax.chain(optax.clip_by_global_norm(1.0),
optax.adamw(...))`` and as ``torch.nn.utils.clip_grad_norm_(params, 1.0)`` followed by
``torch.optim.AdamW`` (set ``clip_eps=1e-6`` for torch's exact form: it divides by the norm
plus 1e-6). The norm is a sum over every element of every parameter, so the step takes two
passes: pass 0 reads only g and sums g^2; after it the clip factor is formed once; pass 1 is
AdamW on the scaled gradient. torch's clip reads g twice and writes it once before its
AdamW reads it again.
"""
from optgen.registry import load_spec
from optgen.transforms import clip_by_global_norm

spec = clip_by_global_norm(
    load_spec("adamw"), max_norm=1.0, name="adamw_clip",
    doc="AdamW on the gradient clipped to global norm max_norm (optax.clip_by_global_norm, torch's clip_grad_norm_).")
