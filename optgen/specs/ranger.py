"""Ranger: Lookahead around RAdamW (the blog post 'Some Deep Learning Optimizers': "simply the combination of RadamW with Lookahead").

Wright (2019), github.com/lessw2020/Ranger-Deep-Learning-Optimizer; Lookahead:
Zhang et al. 2019, arXiv:1907.08610; RAdam: Liu et al. 2020, arXiv:1908.03265.
Built by spec transforms, with no equations of its own:

    ranger = lookahead(radamw with Ranger's defaults, k=6, alpha=0.5)

Defaults are pytorch-optimizer's Ranger: betas (0.95, 0.999), eps 1e-5, k 6,
alpha 0.5, weight_decay 0 (decoupled, scaled by lr), rectification when
rho_t >= 5. pytorch-optimizer's Ranger also centralises gradients of tensors
with more than one dimension by default (``use_gc=True``, Yong et al. 2020);
that is not part of this spec (compare with ``use_gc=False``). Its default
``degenerated_to_sgd=False`` makes the steps before rectification *add* lr m_hat
(a sign slip: the original RAdam code skips them); this spec takes RAdam's
un-rectified SGD-with-momentum step, which is pytorch-optimizer's
``degenerated_to_sgd=True``.
"""
from optgen.registry import load_spec
from optgen.transforms import lookahead, with_defaults

spec = lookahead(
    with_defaults(load_spec("radamw"), beta1=0.95, eps=1e-5, weight_decay=0.0),
    k=6, alpha=0.5, name="ranger",
    doc="Ranger: Lookahead (k=6, alpha=0.5) around RAdamW, with pytorch-optimizer's defaults.")
