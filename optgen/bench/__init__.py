"""``optgen bench``: optgen's kernels against the bandwidth floor and the peers.

Each implementation (optgen, a same-traffic streaming kernel, naive numpy,
torch.optim for-loop/foreach/fused, optax under ``jax.jit``, pytorch-optimizer)
runs in its own process (:mod:`optgen.bench.worker`): two thread pools spinning
in one process disturb each other on a small machine. The processes alternate
over rounds and the figure is the median. See docs/performance.md.
"""
from .models import MODELS, model_shapes
from .runner import run_bench

__all__ = ["MODELS", "model_shapes", "run_bench"]
