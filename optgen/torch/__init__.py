"""optgen.torch: every optgen optimizer as a drop-in ``torch.optim.Optimizer`` (CPU and CUDA tensors).

    import optgen.torch
    opt = optgen.torch.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    opt = optgen.torch.Optimizer(model.parameters(), "lamb", lr=1e-3)   # any spec, path or Spec

Needs torch; ``import optgen`` alone never imports it. See docs/torch.md.
"""
from __future__ import annotations

from . import classes
from .classes import SPEC_CLASSES, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, Muon, NAdam, RAdam, RMSprop, SGD
from .optimizer import Optimizer

__all__ = ["Optimizer", "Adam", "AdamW", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Muon", "Adafactor",
           *SPEC_CLASSES]


def __getattr__(name: str):
    """The classes of specs torch.optim does not ship (LAMB, LARS, Ranger, ...), made on first use."""
    if name in SPEC_CLASSES or name in classes.RENAMED_CLASSES:
        return getattr(classes, name)
    raise AttributeError(f"module 'optgen.torch' has no attribute {name!r}")
