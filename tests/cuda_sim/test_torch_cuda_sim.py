"""optgen.torch's CUDA path under the simulator: parameters in numba device arrays, CUDA kernels.

torch here is the CPU build, so torch CUDA tensors cannot exist. The seam is
``optgen.torch.devices.CUDA``, the one object through which optgen.torch reaches torch's
CUDA side; :class:`SimulatedCUDA` replaces it with parameters and states that live in
numba simulator device arrays (``cuda.to_device``, whose memory is a host array, shown to
torch with ``torch.from_numpy``). The rest is the real path: the split per device, the
CUDA runtime (CUDAOptimizer over caller-owned states), the generated CUDA modules, the
launches on the adapter's stream, torch's state_dict. The same trainings run on real
torch CUDA tensors in tests/test_torch_cuda.py (scripts/gpu_check.sh).

The independent source is torch.optim (a hand-written LAMB as optax computes it) on CPU
twins of the same values (tests/_torch_device_training.py).
"""
from __future__ import annotations

import contextlib
import copy
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import optgen.torch  # noqa: E402
from optgen.runtime.cuda import CUDAOptimizer  # noqa: E402
from optgen.torch import devices  # noqa: E402
import _torch_device_training as training  # noqa: E402

from numba import cuda  # noqa: E402

pytestmark = pytest.mark.skipif(not numba.config.ENABLE_CUDASIM,
                                reason="the simulator's device memory is host memory; on a GPU, "
                                       "tests/test_torch_cuda.py runs these trainings on torch CUDA tensors")


class _Interface:
    """What a torch CUDA tensor's ``__cuda_array_interface__`` says of a contiguous tensor (a flat
    view, or a matrix step's parameter with its shape), for a tensor in simulator device memory (a
    torch CPU tensor has none)."""

    def __init__(self, t: torch.Tensor):
        self.tensor = t  # keeps the memory alive while the runtime holds the address
        self.__cuda_array_interface__ = {
            "shape": tuple(t.shape), "typestr": t.numpy().dtype.str, "strides": None,
            "data": (t.data_ptr(), False), "version": 3}


class SimulatedCUDA(devices.TorchCUDA):
    """numba simulator device arrays standing in for torch's CUDA tensors."""

    # 32 threads a block, not 256: the simulator runs each thread as a Python thread (a 4x
    # faster file); tests/cuda_sim/test_cuda_sim.py checks every spec at this block size
    launch = {"block": 32}

    def __init__(self):
        self.arrays: dict = {}  # a storage's address -> the device array it is (kept alive)
        self.streams = 0

    def adopt(self, values: torch.Tensor) -> torch.Tensor:
        """A copy of ``values`` in a new device array, as a torch tensor over that device memory."""
        device_array = cuda.to_device(np.ascontiguousarray(values.detach().numpy()))
        out = torch.from_numpy(device_array._ary)  # the simulator's device memory is this host array
        self.arrays[out.untyped_storage().data_ptr()] = device_array
        return out

    def owns(self, t: torch.Tensor) -> bool:
        return t.untyped_storage().data_ptr() in self.arrays

    def device(self, t):
        return "cuda:0 (simulated)"

    def interface(self, flat):
        return _Interface(flat)

    def zeros_like(self, p):
        return self.adopt(torch.zeros(p.shape, dtype=p.dtype))

    def stream(self, device):
        self.streams += 1
        return cuda.stream()

    def activate(self, device):
        return contextlib.nullcontext()


class OnSimulator(training.Where):
    def __init__(self, sim: SimulatedCUDA):
        self.sim = sim

    def place_tensors(self, params):
        for p in params:
            p.data = self.sim.adopt(p.data)

    def owns(self, t):
        return self.sim.owns(t)

    def allocated(self):
        return sum(a.nbytes for a in self.sim.arrays.values())


@pytest.fixture
def where(monkeypatch):
    sim = SimulatedCUDA()
    monkeypatch.setattr(devices, "CUDA", sim)
    return OnSimulator(sim)


@pytest.mark.parametrize("name", list(training.CASES))
def test_training_on_device_tensors_follows_torch_optim(where, name):
    training.train_against_reference(where, name, torch.float32)
    assert where.sim.streams >= training.STEPS  # every launch on the adapter's (torch's) stream


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_muon_on_device_matrices_follows_torch_optim(where, dtype):
    training.muon_follows_torch(where, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_adafactor_on_device_tensors_follows_torch_optim(where, dtype):
    training.adafactor_follows_torch(where, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_clip_by_global_norm_around_adafactor_on_device_tensors_follows_torch(where, dtype):
    training.clipped_adafactor_follows_torch(where, dtype)


def test_float64_training_on_device_tensors(where):
    training.train_against_reference(where, "Adam", torch.float64)


@pytest.mark.parametrize("name", ["Adam", "NAdam"])
def test_state_dict_round_trip_continues_the_unbroken_run(where, name):
    training.checkpoint_round_trip(where, name)


def test_a_group_of_cpu_and_device_parameters_runs_per_device(where):
    training.mixed_group(where)


def test_a_global_sum_over_two_devices_is_refused(where):
    training.global_sum_across_devices_is_refused(where)


def test_states_are_allocated_on_the_device(where):
    training.states_are_the_devices_memory(where)


def test_caller_owned_device_states_are_checked_and_not_saved_by_the_runtime():
    """CUDAOptimizer(states=...): the kernels update the caller's arrays (here: as a hand-computed
    Adam step says); a state of the wrong size is refused; its own state_dict refuses, since the
    states are the caller's to save."""
    import optgen
    from optgen.compiler.driver import load_module
    from optgen.runtime import hypers
    from optgen.runtime.cuda import CUDAOptimizer

    spec = optgen.load_spec("adam")
    options, values = hypers.resolve(spec, {"lr": 0.1})
    module = load_module(spec, options, "cuda")
    w, g = np.array([1.0, -2.0, 3.0], np.float32), np.array([0.5, 0.5, -1.0], np.float32)
    dw, dg = cuda.to_device(w), cuda.to_device(g)
    m, v = cuda.to_device(np.zeros(3, np.float32)), cuda.to_device(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match=r"states\[0\]\['v'\] must be a float32 array of 3 elements"):
        CUDAOptimizer(spec, module, [dw], options, values, cuda=cuda,
                      states=[{"m": m, "v": cuda.to_device(np.zeros(4, np.float32))}])
    opt = CUDAOptimizer(spec, module, [dw], options, values, cuda=cuda, states=[{"m": m, "v": v}])
    opt.step([dg])
    # Adam's first step: m = 0.1 g, v = 0.001 g^2, w -= lr * m_hat / (sqrt(v_hat) + eps) = lr * g / (|g| + eps)
    np.testing.assert_allclose(m.copy_to_host(), 0.1 * g, rtol=1e-6)
    np.testing.assert_allclose(v.copy_to_host(), 0.001 * g * g, rtol=1e-6)
    np.testing.assert_allclose(dw.copy_to_host(), w - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-6)
    with pytest.raises(ValueError, match="the states are the caller's arrays"):
        opt.state_dict()


def test_a_per_tensor_option_on_device_tensors_runs_a_launcher_per_branch(where):
    """muon_optax through optgen.torch on device tensors: the matrices (Muon) and the biases (Adam)
    are two CUDA launchers, and the training is the CPU run's (which tests/test_optax_muon.py
    checks against optax), step for step."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    twin = copy.deepcopy(model)
    where.place(model)
    opt = optgen.torch.Optimizer(model.parameters(), "muon_optax", lr=0.05)
    ref = optgen.torch.Optimizer(twin.parameters(), "muon_optax", lr=0.05)
    x, y = torch.randn(16, 6), torch.randn(16, 3)
    for _ in range(5):
        for m, o in ((model, opt), (twin, ref)):
            m.zero_grad()
            torch.nn.functional.mse_loss(m(x), y).backward()
            o.step()
        for a, b in zip(model.parameters(), twin.parameters()):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=1e-6, atol=1e-7)
    launchers = training.launchers(opt)
    assert len(launchers) == 2 and all(isinstance(lo, CUDAOptimizer) for lo in launchers)
