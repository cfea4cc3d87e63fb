"""optgen.torch on real torch CUDA tensors: the trainings of tests/cuda_sim/test_torch_cuda_sim.py.

Skipped only where torch has no CUDA device (CI, and every machine with torch's CPU
build: such tensors cannot exist there); scripts/gpu_check.sh runs it on a GPU. Here
the adapter is optgen's own (``optgen.torch.devices.TorchCUDA``), the parameters
``model.cuda()``'s, the states torch's CUDA allocations, and the reference twin
(torch.optim, or the hand-written LAMB) trains on the same GPU, so that its forward and
backward are the same arithmetic as ours. One more check than under the simulator: the
step on a side stream (``torch.cuda.stream``) is ordered after the backward on it.
"""
from __future__ import annotations

import pytest
import torch

import _torch_device_training as training
from optgen.torch import devices

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="torch sees no CUDA device")


class OnGPU(training.Where):
    reference = "cuda"

    def place_tensors(self, params):
        for p in params:
            p.data = p.data.cuda()

    def owns(self, t):
        return t.is_cuda

    def allocated(self):
        torch.cuda.synchronize()
        return torch.cuda.memory_allocated()


@pytest.fixture
def where():
    assert isinstance(devices.CUDA, devices.TorchCUDA) and type(devices.CUDA) is devices.TorchCUDA
    return OnGPU()


@pytest.mark.parametrize("name", list(training.CASES))
def test_training_on_cuda_tensors_follows_torch_optim(where, name):
    training.train_against_reference(where, name, torch.float32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_muon_on_cuda_matrices_follows_torch_optim(where, dtype):
    training.muon_follows_torch(where, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_adafactor_on_cuda_tensors_follows_torch_optim(where, dtype):
    training.adafactor_follows_torch(where, dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_clip_by_global_norm_around_adafactor_on_cuda_tensors_follows_torch(where, dtype):
    training.clipped_adafactor_follows_torch(where, dtype)


def test_float64_training_on_cuda_tensors(where):
    training.train_against_reference(where, "Adam", torch.float64)


def test_training_on_a_side_stream(where):
    with torch.cuda.stream(torch.cuda.Stream()):
        training.train_against_reference(where, "LAMB", torch.float32)
    torch.cuda.synchronize()


@pytest.mark.parametrize("name", ["Adam", "NAdam"])
def test_state_dict_round_trip_continues_the_unbroken_run(where, name):
    training.checkpoint_round_trip(where, name)


def test_a_group_of_cpu_and_cuda_parameters_runs_per_device(where):
    training.mixed_group(where)


def test_a_global_sum_over_two_devices_is_refused(where):
    training.global_sum_across_devices_is_refused(where)


def test_states_are_torch_cuda_allocations(where):
    training.states_are_the_devices_memory(where)
