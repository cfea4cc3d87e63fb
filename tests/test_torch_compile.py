"""A model under torch.compile trains with optgen.torch.Adam as the eager model with torch.optim.Adam.

``Optimizer.step`` is a ``torch.compiler.disable`` region: compiled code that calls it
(a whole train step under torch.compile) breaks the graph there and runs the step
eagerly, so the kernels see real tensors. Inductor's first compile of even this tiny
model takes up to a minute or two on a loaded 2-core machine (seconds once its cache
is warm); it runs in every `make test`, since CI can run it.
"""
from __future__ import annotations

import torch

import optgen.torch as ot
from _torch_training import torch_one_thread  # noqa: F401 (a fixture)
from _torch_training import assert_same_params, backward, data, twin_models



def test_compiled_model_and_compiled_train_step_match_eager_torch(one_thread, torch_one_thread):
    ours, eager = twin_models("mlp", torch.float32)
    compiled = torch.compile(ours)
    opt, ref = ot.Adam(ours.parameters(), lr=1e-2), torch.optim.Adam(eager.parameters(), lr=1e-2)
    x, y = data("mlp", torch.float32)
    for step in range(20):
        backward(compiled, x, y, step)
        opt.step()
        backward(eager, x, y, step)
        ref.step()
        assert_same_params(ours, eager, f"compiled model, step {step}")

    @torch.compile
    def train_step(i):
        backward(compiled, x, y, i)
        opt.step()

    for step in range(20, 30):
        train_step(step)
        backward(eager, x, y, step)
        ref.step()
        assert_same_params(ours, eager, f"compiled train step, step {step}")
