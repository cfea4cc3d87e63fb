"""LAMB and LARS through optgen.torch train an MLP as optax.lamb / optax.lars do (the independent source).

The optax side trains its own copy of the module: each step its gradients (from
torch autograd on its own parameters) go through the jitted optax update, and the
new parameters are written back into the module. float64 on both sides, 100 steps.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import optax

import optgen.torch as ot
from _sidebyside import Optax
from _torch_training import torch_one_thread  # noqa: F401 (a fixture)
from _torch_training import assert_same_params, backward, data, twin_models

CASES = {
    "LAMB": (dict(lr=1e-2, weight_decay=0.1), lambda: optax.lamb(1e-2, b1=0.9, b2=0.999, eps=1e-6, weight_decay=0.1)),
    "LARS": (dict(lr=0.5, momentum=0.9, weight_decay=0.01, trust_coefficient=1e-2, eps=1e-5,
                  norm_of_decayed_grad=True),
             lambda: optax.lars(0.5, weight_decay=0.01, trust_coefficient=1e-2, eps=1e-5, momentum=0.9)),
}


@pytest.mark.parametrize("name", CASES)
def test_trust_ratio_optimizers_match_optax_on_an_mlp(name, one_thread, torch_one_thread):
    kw, make_tx = CASES[name]
    ours_m, theirs_m = twin_models("mlp", torch.float64)
    opt = getattr(ot, name)(ours_m.parameters(), **kw)
    params = list(theirs_m.parameters())
    side = Optax(make_tx(), [p.detach().numpy().copy() for p in params])
    x, y = data("mlp", torch.float64)
    for step in range(100):
        backward(ours_m, x, y, step)
        opt.step()
        backward(theirs_m, x, y, step)
        side.step([p.grad.numpy().copy() for p in params])
        with torch.no_grad():
            for p, new in zip(params, side.params()):
                p.copy_(torch.from_numpy(np.array(new)))
        assert_same_params(ours_m, theirs_m, f"{name} step {step}")
