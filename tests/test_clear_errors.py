"""Bad inputs get errors that name the spec file and equation (or the argument) and
say what is allowed, never a raw Python error from deep inside optgen.

Each case gave a raw error (AttributeError, SyntaxError in a generated module,
NameError, OverflowError, UnpicklingError, PermissionError) or nothing at all.
The few numbers checked are hand values of one step.
"""
from __future__ import annotations

import dataclasses
import glob
import os
import tempfile
import textwrap
import warnings

import numba.core.config
import numpy as np
import pytest

import optgen
from optgen import schedules
from optgen.compiler import driver
from optgen.spec import SpecError, SpecWarning
from optgen.validate import validate

HEADER = "from optgen.dsl import Spec, hyper, state, var, w, g, t\nimport sympy\n"
SGD = "lr = hyper('lr', 0.5)\nspec = Spec('plain', [(w, w - lr * g)])\n"


def write_spec(tmp_path, body, name="bad.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def refused(tmp_path, body) -> str:
    with pytest.raises(SpecError) as err:
        optgen.load_spec(str(write_spec(tmp_path, body)))
    assert "bad.py" in str(err.value)
    return str(err.value)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


# --- the spec file ------------------------------------------------------------------

def test_a_cyclic_definition_is_named_a_cycle_and_listed(tmp_path):
    text = refused(tmp_path, "a, b = var('a'), var('b')\nspec = Spec('c', [(a, b + g), (b, 2 * a), (w, w - a)])\n")
    assert "equation 1 (a = g + b)" in text
    assert "cyclic definition: a -> b -> a" in text
    assert "state(" in text  # what to write instead


def test_an_intermediate_read_before_it_is_assigned_says_which_equation_assigns_it(tmp_path):
    text = refused(tmp_path, "a, b = var('a'), var('b')\nspec = Spec('c', [(a, b + g), (b, 2 * g), (w, w - a)])\n")
    assert "'b' is read before equation 2 assigns it" in text


def test_a_state_read_but_never_assigned_warns(tmp_path):
    path = write_spec(tmp_path, "m = state('m', 0)\nspec = Spec('c', [(w, w - m * g)])\n")
    with pytest.warns(SpecWarning, match=r"bad.py: state 'm' of 'c' is read \(equation 1\) but never assigned"):
        optgen.load_spec(str(path))


def test_a_snapshot_state_and_the_shipped_specs_do_not_warn(tmp_path):
    path = write_spec(tmp_path, "w0 = state('w0', init=w)\nspec = Spec('c', [(w, w - g + 0.1 * (w0 - w))])\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        optgen.load_spec(str(path))
        for spec in optgen.registry.all_specs().values():
            validate(dataclasses.replace(spec))  # a fresh object: warnings are given once per spec


@pytest.mark.parametrize("target,what", [("2*w", "the expression 2*w"), ("1.0", "the constant 1.0")])
def test_an_assignment_to_an_expression_or_a_constant_is_refused(tmp_path, target, what):
    text = refused(tmp_path, f"spec = Spec('c', [({target}, w - g), (w, w - g)])\n")
    assert f"equation 1 ({target} = " in text
    assert f"cannot assign to {what}" in text
    assert "w, a state, or a named intermediate" in text


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_constant_update_compiles_and_sets_w(tmp_path, cache, dtype, one_thread):
    path = write_spec(tmp_path, "spec = Spec('c', [(w, 1.0)])\n")
    params = [np.full(5, 1.5, dtype)]
    optgen.create(str(path), params).step([np.ones(5, dtype)])
    assert np.all(params[0] == 1.0)


@pytest.mark.parametrize("name", ["lambda", "for", "None"])
def test_a_hyperparameter_named_with_a_keyword_is_refused(tmp_path, name):
    text = refused(tmp_path, f"k = hyper({name!r}, 0.1)\nspec = Spec('c', [(w, w - k * g)])\n")
    assert f"the hyperparameter {name!r} of 'c' is named with a Python keyword" in text
    assert f"{name + '_'!r}" in text


@pytest.mark.parametrize("name", ["w", "g", "t"])
@pytest.mark.parametrize("declare,kind", [("hyper({!r}, 0.1)", "hyperparameter"), ("state({!r}, 0)", "state")])
def test_a_symbol_named_w_g_or_t_is_refused(tmp_path, name, declare, kind):
    text = refused(tmp_path, f"k = {declare.format(name)}\nspec = Spec('c', [(w, w - k * g)])\n")
    assert f"the {kind} {name!r} of 'c' has the name of the" in text
    assert "w, g and t are reserved" in text


def test_a_matrix_in_an_equation_is_refused(tmp_path):
    text = refused(tmp_path, "spec = Spec('c', [(w, sympy.Matrix([[w - g]]))])\n")
    assert "equation 1" in text and "SymPy Matrix" in text and "per-element scalars" in text


def test_a_matrix_that_fails_in_the_file_gets_the_line_and_the_rule(tmp_path):
    text = refused(tmp_path, "spec = Spec('c', [(w, w - sympy.Matrix([g, g]))])\n")
    assert "(line 3)" in text and "per-element scalars" in text


# --- hyperparameter values and schedules ---------------------------------------------

@pytest.mark.parametrize("returned", [None, "0.1", 1j])
def test_a_schedule_returning_a_non_number_is_refused_at_create(tmp_path, returned):
    params = [np.ones(3)]
    with pytest.raises(SpecError, match=r"sgd: lr=.* \(the schedule's value at t=1\) must be a real number"):
        optgen.create("sgd", params, lr=lambda step: returned)
    assert np.all(params[0] == 1.0)


def test_a_schedule_that_turns_bad_later_is_refused_at_that_step(cache, one_thread):
    params = [np.ones(3)]
    opt = optgen.create("sgd", params, lr=lambda step: 0.5 if step < 3 else None)
    opt.step([np.ones(3)])
    opt.step([np.ones(3)])
    with pytest.raises(SpecError, match=r"lr=None \(the schedule's value at t=3\) must be a real number"):
        opt.step([np.ones(3)])
    assert np.all(params[0] == 0.0) and opt.t == 2  # 1 - 0.5 - 0.5, and the third step not taken


def test_a_schedule_that_raises_names_the_hyperparameter_and_the_step():
    with pytest.raises(SpecError, match=r"the schedule .* of lr failed at t=1: ZeroDivisionError"):
        optgen.create("sgd", [np.ones(3)], lr=lambda step: 1 / 0)


def test_a_hyperparameter_beyond_float64_is_refused():
    with pytest.raises(SpecError, match=r"lr=1000.*\(401 chars\) is too large for a float64 .*allowed: positive"):
        optgen.create("sgd", [np.ones(3)], lr=10**400)
    with pytest.raises(ValueError, match="must fit a float64"):
        schedules.Constant(10**400)


# --- the cache ----------------------------------------------------------------------

def _module_file(tmp_path, one_step=True) -> str:
    path = write_spec(tmp_path, SGD, name="plain.py")
    w = [np.ones(2)]
    opt = optgen.create(str(path), w)
    if one_step:
        opt.step([np.ones(2)])
    elif opt._precompiler is not None:
        # the background compile uses warnings.catch_warnings (Numba's), which is process-wide and
        # would undo the next pytest.warns if it ran beside it (docs/threads.md): let it finish here
        opt._precompiler.wait()
    return opt.module.__file__


@pytest.mark.parametrize("damage", ["truncated", "cut at a line", "garbage"])
def test_a_broken_cached_module_is_rebuilt(tmp_path, cache, damage, one_thread):
    module_file = _module_file(tmp_path, one_step=False)
    good = open(module_file, "rb").read()
    lines = good.splitlines(keepends=True)
    broken = {"truncated": good[: len(good) // 2], "cut at a line": b"".join(lines[:30]),
              "garbage": lines[0] + lines[1] + b"\xff\xfe\x00 not python\n"}[damage]
    open(module_file, "wb").write(broken)
    with pytest.warns(RuntimeWarning, match=r"plain\.py was unusable .*; rebuilt it"):
        w = [np.ones(2)]
        optgen.create(str(tmp_path / "plain.py"), w).step([np.ones(2)])
    assert np.all(w[0] == 0.5)
    assert open(module_file, "rb").read() == good


def test_a_corrupted_numba_cache_file_is_deleted_and_recompiled(tmp_path, cache, monkeypatch, one_thread):
    # Numba writes next to the module unless $NUMBA_CACHE_DIR is set: keep this test's files there
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", "")
    module_file = _module_file(tmp_path)
    cached = glob.glob(os.path.join(os.path.dirname(module_file), "__pycache__", "plain.*.nb[ic]"))
    assert cached, "Numba wrote no cache files"
    for f in cached:
        open(f, "wb").write(open(f, "rb").read()[:20])
    monkeypatch.setattr(driver, "_modules", {})  # a new process: the kernels load from the cache
    with pytest.warns(RuntimeWarning, match=r"could not read the Numba cache file\(s\) .*plain\..*deleted them"):
        w = [np.ones(2)]
        optgen.create(str(tmp_path / "plain.py"), w).step([np.ones(2)])
    assert np.all(w[0] == 0.5)


def test_an_unwritable_cache_directory_falls_back_to_a_temporary_one(tmp_path, monkeypatch, one_thread):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(blocker / "cache"))  # under a file: cannot be created
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    with pytest.warns(RuntimeWarning, match=r"a_file/cache is not writable .*OPTGEN_CACHE_DIR"):
        module_file = _module_file(tmp_path)
    assert module_file.startswith(str(tmp_path / "tmp" / "optgen-cache-"))


def test_no_writable_cache_directory_at_all_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setattr(tempfile, "tempdir", str(blocker / "tmp"))
    with pytest.raises(SpecError, match=r"a_file/cache is not writable .* set OPTGEN_CACHE_DIR to a writable"):
        _module_file(tmp_path)


@pytest.mark.parametrize("name", ["device", "nonfinite", "params"])
def test_a_hyperparameter_named_like_an_argument_of_create_is_refused(tmp_path, name):
    """optgen.create(spec, params, device=..., nonfinite=..., **hypers) could never set it."""
    text = refused(tmp_path, f"x = hyper('{name}', 0.5)\nspec = Spec('c', [(w, w - x * g)])\n")
    assert f"the hyperparameter '{name}' of 'c' has the name of an argument of optgen.create" in text
