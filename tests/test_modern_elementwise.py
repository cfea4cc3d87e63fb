"""Lion, AdaBelief, Yogi, Adan (against optax) and Rprop, ASGD (against torch.optim), 200 steps each.

Every spec also runs beside the reference oracle in the same trajectory
(``_sidebyside.trajectory``), float32 and float64, with tensors of three shapes
and gradient scales. Options and hyperparameters are chosen so that every branch
runs: AdaBelief's Nesterov form, Adan's weight decay and its first step (no
gradient difference yet), ASGD's averaging (a small t0, so mu < 1 from step 52),
Rprop's sign flips (random gradients flip about half the time) and its clamps.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optax  # noqa: E402
import torch  # noqa: E402

from _sidebyside import Optax, Torch, seed_of, trajectory  # noqa: E402

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


@pytest.fixture
def torch_scalars_in(request):
    """torch keeps ASGD's eta and mu as tensors of the default dtype: make it the parameters' dtype."""
    before = torch.get_default_dtype()

    def use(dtype):
        torch.set_default_dtype(torch.float64 if np.dtype(dtype) == np.float64 else torch.float32)
    yield use
    torch.set_default_dtype(before)


def run(name, hypers, dtype, external, label=""):
    return trajectory(name, hypers, dtype, external, seed=seed_of(f"{name}-{sorted(hypers.items())}-{dtype}"),
                      label=label or name)


OPTAX_CASES = [
    ("lion", dict(lr=1e-3, beta1=0.9, beta2=0.99, weight_decay=1e-2),
     lambda h: optax.lion(h["lr"], b1=h["beta1"], b2=h["beta2"], weight_decay=h["weight_decay"])),
    ("adabelief", dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-16, eps_root=1e-16),
     lambda h: optax.adabelief(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"], eps_root=h["eps_root"])),
    ("adabelief", dict(lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-8, eps_root=1e-12, nesterov=True),
     lambda h: optax.adabelief(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"], eps_root=h["eps_root"],
                               nesterov=True)),
    ("yogi", dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-3),
     lambda h: optax.yogi(h["lr"], b1=h["beta1"], b2=h["beta2"], eps=h["eps"])),
    ("adan", dict(lr=1e-2, beta1=0.98, beta2=0.92, beta3=0.99, eps=1e-8, eps_root=1e-8, weight_decay=0.05),
     lambda h: optax.adan(h["lr"], b1=h["beta1"], b2=h["beta2"], b3=h["beta3"], eps=h["eps"],
                          eps_root=h["eps_root"], weight_decay=h["weight_decay"])),
]


@DTYPES
@pytest.mark.parametrize("name,hypers,make", OPTAX_CASES,
                         ids=[f"{n}-{'-'.join(k for k, v in h.items() if v is True) or 'default'}"
                              for n, h, _ in OPTAX_CASES])
def test_matches_optax(name, hypers, make, dtype, x64):
    x64(dtype)
    run(name, hypers, dtype, lambda p: Optax(make(hypers), p))


@DTYPES
@pytest.mark.parametrize("hypers", [
    dict(lr=1e-2, eta_minus=0.5, eta_plus=1.2, step_min=1e-6, step_max=50.0),
    dict(lr=0.3, eta_minus=0.3, eta_plus=1.5, step_min=1e-3, step_max=0.5, maximize=True),  # clamps bind
], ids=["default", "clamped-maximize"])
def test_rprop_matches_torch(hypers, dtype):
    h = hypers
    run("rprop", h, dtype, lambda p: Torch(lambda q: torch.optim.Rprop(
        q, lr=h["lr"], etas=(h["eta_minus"], h["eta_plus"]), step_sizes=(h["step_min"], h["step_max"]),
        maximize=h.get("maximize", False)), p))


@DTYPES
@pytest.mark.parametrize("hypers", [
    dict(lr=5e-2, lambd=1e-3, alpha=0.75, t0=50.0, weight_decay=0.0),
    dict(lr=1e-2, lambd=0.5, alpha=0.6, t0=10.0, weight_decay=1e-2, maximize=True),
], ids=["averaging-from-52", "decay-maximize"])
def test_asgd_matches_torch(hypers, dtype, torch_scalars_in):
    torch_scalars_in(dtype)
    h = hypers
    ours = {}

    def make(p):
        ours["torch"] = Torch(lambda q: torch.optim.ASGD(
            q, lr=h["lr"], lambd=h["lambd"], alpha=h["alpha"], t0=h["t0"], weight_decay=h["weight_decay"],
            maximize=h.get("maximize", False)), p)
        return ours["torch"]
    import optgen
    params = [np.random.default_rng(3).standard_normal(s).astype(dtype) for s in [(3, 4), (7,), (2, 3, 5)]]
    run_params = [p.copy() for p in params]
    trajectory("asgd", h, dtype, make, params=run_params, seed=seed_of(f"asgd-{h}-{dtype}"))
    # the averaged parameters (torch's state["ax"]) follow torch's too, averaging included
    opt = optgen.create("asgd", [p.copy() for p in params], **h)
    ext = make([p.copy() for p in params])
    rng = np.random.default_rng(11)
    for _ in range(80):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        opt.step(grads)
        ext.step(grads)
    sd = opt.state_dict()
    for i, p in enumerate(ext.p):
        ax = ext.opt.state[p]["ax"].numpy()
        np.testing.assert_allclose(sd["states"][i]["ax"], ax, rtol=3e-5 if dtype == np.float32 else 1e-11,
                                   atol=1e-6 if dtype == np.float32 else 1e-12)
