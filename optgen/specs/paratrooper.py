"""Paratrooper: RangerLARS with the trust ratio clipped to max(1, min((r b_t)^-1, r)).

The blog post 'Some Deep Learning Optimizers', end of "RangerLARS": "the clamping process, given by the formula
max(0, min(r_t, 10)) can be changed to max(1, min((r_t b_t)^-1, r_t)), where
b_t = sqrt(1 - beta2^t) / (1 - beta1^t) is the Adam bias correction term. This
modification is called Paratrooper and forces RangerLARS to become more and more
like Ranger as time goes on". Here r_t is the trust ratio (``specs/ranger_lars.py``,
LAMB's convention ||w|| / ||u||); as b_t -> 1 the clip min(1/r, r) <= 1 is lifted
to 1, so the steps become RAdam's (inside Lookahead): Ranger. Built by transforms::

    paratrooper = lookahead(trust_ratio(radam, clip=paratrooper_clip()), k=6, alpha=0.5)
"""
from optgen.registry import load_spec
from optgen.transforms import lookahead, paratrooper_clip, trust_ratio, with_defaults

spec = lookahead(
    trust_ratio(with_defaults(load_spec("radam"), beta1=0.95, eps=1e-5), clip=paratrooper_clip()),
    k=6, alpha=0.5, name="paratrooper",
    doc="Paratrooper: RangerLARS whose trust ratio max(1, min(1/(r b_t), r)) tends to 1 (to Ranger).")
