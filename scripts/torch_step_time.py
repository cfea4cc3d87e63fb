"""Step time of optgen.torch.Adam against torch.optim.Adam (foreach, fused) on a ~100k-parameter MLP.

    PYTHONPATH=. python scripts/torch_step_time.py [--steps 300] [--rounds 7] [--torch-threads N]

Each implementation steps its own copy of the MLP (784-128-10, 101,770 float32
parameters in 4 tensors) with fixed gradients; the implementations alternate
round by round; the median per-step time of each is printed (µs). A measurement,
not a test: run it idle and under load (docs/torch.md has figures).
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import optgen.torch as ot


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


def make(name):
    model = mlp()
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    params = list(model.parameters())
    if name == "optgen.torch.Adam":
        return ot.Adam(params, lr=1e-3)
    if name == "torch.optim.Adam(foreach=True)":
        return torch.optim.Adam(params, lr=1e-3, foreach=True)
    if name == "torch.optim.Adam(fused=True)":
        return torch.optim.Adam(params, lr=1e-3, fused=True)
    return torch.optim.Adam(params, lr=1e-3, foreach=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    args = ap.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    names = ["optgen.torch.Adam", "torch.optim.Adam(foreach=True)", "torch.optim.Adam(fused=True)",
             "torch.optim.Adam(foreach=False)"]
    opts = {n: make(n) for n in names}
    for o in opts.values():
        o.step()  # first step: kernels loaded, states made
    times = {n: [] for n in names}
    for _ in range(args.rounds):
        for n, o in opts.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                o.step()
            times[n].append((time.perf_counter() - t0) / args.steps * 1e6)
    print(f"torch threads {torch.get_num_threads()}, numba threads {__import__('numba').get_num_threads()}")
    for n in names:
        print(f"{n:34s} {statistics.median(times[n]):8.1f} µs/step")


if __name__ == "__main__":
    main()
