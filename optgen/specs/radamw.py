"""RAdamW: RAdam with decoupled weight decay, made by a spec transform.

``decoupled_weight_decay`` applied to RAdam without its L2 term:
w <- radam(w) - lr weight_decay w_old, which is torch.optim.RAdam with
``decoupled_weight_decay=True`` (and RAdam's option of that name). The inner
optimizer of Ranger (the blog post 'Some Deep Learning Optimizers': "RadamW ... alongside the rectification term, we
have properly added weight decay regularization, similar to AdamW").
"""
from optgen.registry import load_spec
from optgen.transforms import decoupled_weight_decay

spec = decoupled_weight_decay(load_spec("radam").resolve(decoupled_weight_decay=False),
                              weight_decay=1e-2, name="radamw",
                              doc="RAdamW: RAdam with decoupled weight decay (torch's RAdam, decoupled_weight_decay=True).")
