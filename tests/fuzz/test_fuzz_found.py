"""Bugs the fuzzers found that issue 10 did not list: each a minimal reproduction.

Each failed when the fuzzer found it (they were marked ``xfail(strict=True)`` until
their fixes merged). The numbers come
from the reference oracle or a hand derivation written next to them.
"""
from __future__ import annotations

import numpy as np
import pytest

import optgen
from optgen.dsl import Eq, Spec, hyper, norm, state, tensor_sum, var, when, w, g


def test_in_memory_specs_that_differ_only_in_a_state_init_get_their_own_kernels(fuzz_dirs):
    """Two in-memory specs of one name and the same equations, one state starting at 1, the other at 3.

    By hand, with g = 1: m = 0.5 m0 + 1, w = -0.1 m, so w = -0.15 (m0 = 1) and -0.25 (m0 = 3).
    Today ``spec_hash`` of an in-memory spec hashes only the equations' text, so the second
    ``create`` loads the module generated for the first (in this process and in later ones).
    """
    for init, want in ((1, -0.15), (3, -0.25)):
        m = state("m", init)
        spec = Spec("fuzz_found_same_equations", [(m, 0.5 * m + g), (w, w - 0.1 * m)])
        params = [np.zeros(3)]
        optgen.create(spec, params).step([np.ones(3)])
        np.testing.assert_allclose(params[0], want, rtol=1e-12, err_msg=f"init {init}")


def _kernel_and_oracle_after_one_step(spec, grad):
    """(kernel's w, oracle's w) after one step from w = (1, 2, 3); None where the spec is refused."""
    params, mirror = [np.array([1.0, 2.0, 3.0])], [np.array([1.0, 2.0, 3.0])]
    try:
        opt, ref = optgen.create(spec, params), optgen.reference(spec, mirror)
    except optgen.SpecError:
        return None   # refused at load time, naming the symbol: as good as compiling it right
    opt.step([grad.copy()])
    ref.step([grad.copy()])
    return params[0], mirror[0]


@pytest.mark.parametrize("builtin", ["abs", "range"])
def test_a_value_named_after_a_builtin_of_the_generated_code(builtin, fuzz_dirs):
    """An intermediate named ``abs`` (Abs is printed ``abs(...)``: today the oracle's lambdified function
    calls its own argument, TypeError) or a hyperparameter named ``range`` (a kernel argument, and the chunk
    loop is ``for _i in range(...)``: a numba TypingError at the first step). A SpecError at load is right
    too. By hand, from w = (1, 2, 3) with g = (1, -2, 0.5): ``w - 0.1 |2 g| - 0.1 |g|`` = w - 0.3 |g|;
    ``w - 0.1 g / (0.1 + g^2)``."""
    grad = np.array([1.0, -2.0, 0.5])
    w0 = np.array([1.0, 2.0, 3.0])
    if builtin == "abs":
        a = var("abs")
        spec = Spec("fuzz_found_abs", [(a, 2 * g), (w, w - 0.1 * abs(a) - 0.1 * abs(g))])
        want = w0 - 0.3 * np.abs(grad)
    else:
        lr = hyper("range", 0.1, domain="positive")
        spec = Spec("fuzz_found_range", [(w, w - 0.1 * g / (lr + g**2))])  # a kernel argument `range`
        want = w0 - 0.1 * grad / (0.1 + grad**2)
    out = _kernel_and_oracle_after_one_step(spec, grad)
    for who, got in zip(("kernel", "oracle"), out or ()):
        np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=who)


@pytest.mark.parametrize("level", ["element", "tensor"])
def test_the_oracle_evaluates_a_host_condition_ored_with_an_array_one(level, fuzz_dirs):
    """``when(Eq(c, 0) | (g > 0), g, 2 g)``: the oracle raises ValueError (numpy's logical_or.reduce of a
    scalar and an array, "inhomogeneous shape"). The kernel is right; by hand, with c = 0.5,
    w = (1, 1, 1) and g = (1, -1, 2): element level m = (1, -2, 2), w = (0.9, 1.2, 0.8); tensor
    level (||g|| = sqrt 6) m = g / sqrt 6."""
    c, m, r = hyper("c", 0.5, domain="[0, 1)"), state("m", 0), var("r")
    grad = np.array([1.0, -1.0, 2.0])
    if level == "element":
        spec = Spec("fuzz_found_or_element", [(m, when(Eq(c, 0) | (g > 0), g, 2 * g)), (w, w - 0.1 * m)])
        want = np.array([0.9, 1.2, 0.8])
    else:
        spec = Spec("fuzz_found_or_tensor", [(r, norm(g)), (m, when(Eq(c, 0) | Eq(r, 0), 1, 1 / r) * g),
                                             (w, w - 0.1 * m)])
        want = 1 - 0.1 * grad / np.sqrt(6)
    mirror = [np.ones(3)]
    optgen.reference(spec, mirror).step([grad])
    np.testing.assert_allclose(mirror[0], want, rtol=1e-12)


@pytest.mark.parametrize("what", ["constant", "hyperparameter"])
def test_the_oracle_sums_a_constant_over_every_element(what, fuzz_dirs):
    """``r = tensor_sum(1)`` (or ``tensor_sum(lr)``), ``w = w - r`` over a (3, 5) tensor of zeros: by the
    definition (a sum over the tensor's elements) r = 15 (7.5 with lr = 0.5), so w = -15 (-7.5), as the
    kernel computes. The oracle's ``numpy.sum`` of the scalar gives r = 1 (0.5)."""
    r, lr = var("r"), hyper("lr", 0.5, domain="positive")
    term, want = (1, -15.0) if what == "constant" else (lr, -7.5)
    spec = Spec(f"fuzz_found_sum_{what}", [(r, tensor_sum(term)), (w, w - r)])
    params, mirror = [np.zeros((3, 5))], [np.zeros((3, 5))]
    optgen.create(spec, params).step([np.ones((3, 5))])
    optgen.reference(spec, mirror).step([np.ones((3, 5))])
    np.testing.assert_allclose(params[0], want, rtol=1e-12, err_msg="kernel")
    np.testing.assert_allclose(mirror[0], want, rtol=1e-12, err_msg="oracle")
