"""A model under torch.compile trains with optgen.torch.Adam as the eager model with torch.optim.Adam.

``Optimizer.step`` is a ``torch.compiler.disable`` region: compiled code that calls it
(a whole train step under torch.compile) breaks the graph there and runs the step
eagerly, so the kernels see real tensors. Inductor's first compile of even this tiny
model takes one to two minutes on the shared 2-core machine, so the test runs only
with OPTGEN_TORCH_COMPILE_TESTS=1 (run it before a release, or on a quiet machine).
"""
from __future__ import annotations

import os

import pytest
import torch

import optgen.torch as ot
from _torch_training import torch_one_thread  # noqa: F401 (a fixture)
from _torch_training import assert_same_params, backward, data, twin_models

pytestmark = pytest.mark.skipif(os.environ.get("OPTGEN_TORCH_COMPILE_TESTS") != "1",
                                reason="torch.compile's first compile takes minutes here; "
                                       "set OPTGEN_TORCH_COMPILE_TESTS=1 to run")


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
