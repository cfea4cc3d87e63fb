"""RangerLARS (also RangerLamb, Over9000): Lookahead around RAdam with a LARS/LAMB trust ratio.

The blog post 'Some Deep Learning Optimizers', "RangerLARS": the RAdam step -lr r_t m_hat l_t (or the un-rectified
-lr m_hat) is scaled per tensor by a trust ratio, clamped to [0, 10], and
Lookahead keeps slow weights around it. Built by spec transforms::

    ranger_lars = lookahead(trust_ratio(radam, clip=(0, 10)), k=6, alpha=0.5)

with u = (the RAdam step) / lr and ratio = ||w|| / ||u|| (1 where either norm
is 0), LAMB's convention (the ratio does not depend on lr). The blog post 'Some Deep Learning Optimizers' writes the
ratio as ||w|| / ||lr r_t m_hat l_t||, the norm of the whole step; with the
clamp inactive lr would then cancel, and every step would move a tensor by
||w||. The over9000 code (mgrankin/over9000, ralamb.py) clamps ||w|| to
[0, 10] rather than the ratio, and takes the norm of w + step rather than of the
step; this spec follows the issue and the blog post's text: the ratio is clamped.
Defaults as Ranger (``specs/ranger.py``): betas (0.95, 0.999), eps 1e-5, k 6,
alpha 0.5; weight decay is RAdam's (L2, or decoupled with the option), inside
the trust-ratio step.
"""
from optgen.registry import load_spec
from optgen.transforms import lookahead, trust_ratio, with_defaults

spec = lookahead(
    trust_ratio(with_defaults(load_spec("radam"), beta1=0.95, eps=1e-5), clip=(0, 10)),
    k=6, alpha=0.5, name="ranger_lars",
    doc="RangerLARS / Over9000: Lookahead around RAdam with a per-tensor trust ratio clamped to [0, 10].")
