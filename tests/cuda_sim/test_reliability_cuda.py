"""The CUDA runtime's share of tests/test_reliability_*.py: names, tied weights, checkpoints.

Expected values: hand derivations (SGD with lr = 1 from w = 0 gives -(sum of the
gradients)) and the reference oracle.
"""
import copy
import textwrap

import numpy as np
import pytest

import optgen
from optgen.spec import SpecError

try:
    from numba import cuda
except ImportError:  # pragma: no cover - without numba-cuda every test here is skipped
    cuda = None

def test_spec_names_of_the_compilers_shapes_match_the_oracle(tmp_path):
    """A state `h1` and a hyperparameter `h0` (host values), a hyperparameter `w_1` (a version)."""
    path = tmp_path / "adam_h.py"
    path.write_text(textwrap.dedent("""
        from optgen.dsl import Spec, hyper, state, w, g, t, sqrt
        h0, w_1 = hyper("h0", 1e-2), hyper("w_1", 1.0)
        beta1, beta2, eps = hyper("beta1", 0.9), hyper("beta2", 0.999), hyper("eps", 1e-8)
        m, h1 = state("m", 0), state("h1", 0)
        spec = Spec("adam_h", [
            (m, beta1 * m + (1 - beta1) * g),
            (h1, beta2 * h1 + (1 - beta2) * g**2),
            (w, w - w_1 * h0 / (1 - beta1**t) * m / (sqrt(h1) / sqrt(1 - beta2**t) + eps)),
        ])
    """))
    rng = np.random.default_rng(11)
    host = [rng.standard_normal(n) for n in (3, 100)]
    q = [w.copy() for w in host]
    dev = [cuda.to_device(w) for w in host]
    opt, ref = optgen.create(str(path), dev, device="cuda"), optgen.reference(str(path), q)
    for _ in range(3):
        grads = [rng.standard_normal(w.shape) for w in host]
        opt.step([cuda.to_device(x) for x in grads])
        ref.step(grads)
    for d, r in zip(dev, q):
        np.testing.assert_allclose(d.copy_to_host(), r, rtol=1e-10, atol=1e-12)


def test_the_same_device_array_twice_is_updated_once():
    a = cuda.to_device(np.zeros(40))
    g = cuda.to_device(np.arange(40.0))
    opt = optgen.create("sgd", [a, a], device="cuda", lr=1.0)
    opt.step([g, g])
    opt.step([g, g])
    np.testing.assert_array_equal(a.copy_to_host(), -2 * np.arange(40.0))
    sd = opt.state_dict()
    assert len(sd["states"]) == 2
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\] are the same array .*grads\[0\] and grads\[1\]"):
        opt.step([g, cuda.to_device(np.arange(40.0))])


def test_overlapping_device_views_are_refused_naming_both_indices():
    buffer = cuda.to_device(np.zeros(20, np.float32))
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\] overlap in memory but are not the same"):
        optgen.create("sgd", [buffer[:10], buffer[5:15]], device="cuda")


@pytest.mark.parametrize("damage,error,message", [
    (lambda sd: sd.update(t=2.7), ValueError, "the step must be a whole number"),
    (lambda sd: sd["hypers"].update(lr=-5.0), SpecError, "outside its domain positive"),
    (lambda sd: sd["states"][0].update(m=sd["states"][0]["m"].astype(np.float64)), TypeError, "has dtype float64"),
])
def test_a_bad_checkpoint_changes_nothing_on_the_device(damage, error, message):
    host = np.linspace(-1, 1, 50).astype(np.float32)
    dev = [cuda.to_device(host)]
    opt = optgen.create("adam", dev, device="cuda", lr=0.01)
    opt.step([cuda.to_device(np.ones(50, np.float32))])
    before = copy.deepcopy(opt.state_dict())
    sd = copy.deepcopy(before)
    sd["states"][0]["m"] = sd["states"][0]["m"] + 1
    damage(sd)
    with pytest.raises(error, match=message):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["t"] == before["t"] == 1 and after["hypers"] == before["hypers"]
    np.testing.assert_array_equal(after["states"][0]["m"], before["states"][0]["m"])
