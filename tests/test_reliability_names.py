"""The compiler's own names never meet a spec's (optgen/names.py).

Each test gives a spec a name of the shape the compiler uses for one kind of
generated name — host values ``h0``, CSE temporaries ``x0``, SSA versions
``w_1``, first-step values ``m_old_1``, reduction sums ``sum_1``, the tensor
stage's argument — and compares the kernel with the reference oracle, which
evaluates the equations directly and has no generated names. Names the
templates themselves use are refused at load time, naming the file.
"""
from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import numpy as np
import pytest

import optgen
from optgen.names import TEMPLATE_NAMES
from optgen.registry import GENERATED_DIR
from optgen.spec import SpecError

HEADER = "from optgen.dsl import Spec, hyper, state, var, when, w, g, t, sqrt, norm\n"
SHAPES = [(7,), (3, 5)]


def write_spec(tmp_path, body: str, name: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


def assert_matches_oracle(path: str, steps: int = 4, **hypers) -> None:
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(s) for s in SHAPES]
    ref_params = [p.copy() for p in params]
    opt = optgen.create(path, params, **hypers)
    ref = optgen.reference(path, ref_params, **hypers)
    for _ in range(steps):
        grads = [rng.standard_normal(s) for s in SHAPES]
        opt.step(grads)
        ref.step(grads)
    for ours, theirs in zip(params, ref_params):
        np.testing.assert_allclose(ours, theirs, rtol=1e-11, atol=1e-13)


ADAM_H = """
    h0 = hyper("h0", 1e-2)                       # named like the first host value
    beta1, beta2, eps = hyper("beta1", 0.9), hyper("beta2", 0.999), hyper("eps", 1e-8)
    m, h1 = state("m", 0), state("h1", 0)        # the second moment, named like a host value
    spec = Spec("adam_h", [
        (m, beta1 * m + (1 - beta1) * g),
        (h1, beta2 * h1 + (1 - beta2) * g**2),
        (w, w - h0 / (1 - beta1**t) * m / (sqrt(h1) / sqrt(1 - beta2**t) + eps)),
    ])
"""


def test_adam_with_a_state_h1_and_a_hyper_h0_matches_the_oracle(tmp_path, one_thread):
    assert_matches_oracle(write_spec(tmp_path, ADAM_H, "adam_h"))


@pytest.mark.parametrize("d,acc_delta", [("x0", "acc_delta"), ("d", "x1")])
def test_cse_temporaries_avoid_spec_names_of_their_shape(tmp_path, one_thread, d, acc_delta):
    # Adadelta: CSE names eps + acc_delta (read twice) and d (a named intermediate, inlined);
    # here one of them carries the name of a CSE temporary
    body = f"""
        lr, rho, eps, wd = hyper("lr", 1.0), hyper("rho", 0.9), hyper("eps", 1e-6), hyper("wd", 0.1)
        square_avg, acc_delta = state("square_avg", 0), state("{acc_delta}", 0)
        d, delta = var("{d}"), var("delta")
        spec = Spec("cse_x", [
            (d, g + wd * w),
            (square_avg, rho * square_avg + (1 - rho) * d**2),
            (delta, sqrt(acc_delta + eps) / sqrt(square_avg + eps) * d),
            (acc_delta, rho * acc_delta + (1 - rho) * delta**2),
            (w, w - lr * delta),
        ])
    """
    assert_matches_oracle(write_spec(tmp_path, body, "cse_x"))


def test_ssa_versions_avoid_hypers_named_like_them(tmp_path, one_thread):
    # w's new value is version w_1 and m's is m_1: here both are hyperparameters
    body = """
        w_1, m_1 = hyper("w_1", 0.1), hyper("m_1", 0.5)
        m = state("m", 0)
        spec = Spec("ssa_names", [(m, m_1 * m + g), (w, w - w_1 * m)])
    """
    assert_matches_oracle(write_spec(tmp_path, body, "ssa_names"))


def test_first_step_values_avoid_a_hyper_named_like_them(tmp_path, one_thread):
    # a state that starts from g reads `m_old_1 = g if t == 1 else m`
    body = """
        m_old_1 = hyper("m_old_1", 0.1)
        m = state("m", init=g)
        spec = Spec("first_step", [(m, 0.9 * m + 0.1 * g), (w, w - m_old_1 * m)])
    """
    assert_matches_oracle(write_spec(tmp_path, body, "first_step"))


def test_reduction_sums_and_the_tensor_stage_avoid_spec_names(tmp_path, one_thread):
    # the sum of g**2 is sum_1; `h` was the tensor stage function's argument
    body = """
        sum_1, h = hyper("sum_1", 0.1), hyper("h", 2.0)
        ratio = var("ratio")
        spec = Spec("sums", [(ratio, h / (norm(g) + 1)), (w, w - sum_1 * ratio * g)])
    """
    assert_matches_oracle(write_spec(tmp_path, body, "sums"))


@pytest.mark.parametrize("name", sorted(TEMPLATE_NAMES - {"t"}))
def test_names_the_templates_use_are_refused(tmp_path, name):
    path = write_spec(tmp_path, f"x = hyper({name!r}, 0.1)\nspec = Spec('tpl', [(w, w - x * g)])\n", "tpl")
    with pytest.raises(SpecError, match=rf"tpl.py: symbol name '{name}' in 'tpl' is reserved"):
        optgen.load_spec(path)


@pytest.mark.parametrize("declared,kind", [
    ("m = state('m', 0)", "state 'm'"), ("lr2 = hyper('m', 0.1)", "hyperparameter 'm'")])
def test_an_intermediate_named_like_a_declared_symbol_is_refused(tmp_path, declared, kind):
    body = f"{declared}\nlr = hyper('lr', 0.1)\nx = var('m')\nspec = Spec('clash', [(x, 2 * g), (w, w - lr * x)])\n"
    if "state" in declared:
        body = body.replace("(x, 2 * g)", "(m, m + g), (x, 2 * m)")
    else:
        body = body.replace("w - lr * x", "w - lr * x * lr2")
    with pytest.raises(SpecError, match=rf"clash.py, spec 'clash', equation \d .*the intermediate m has the name "
                                        rf"of {kind}"):
        optgen.load_spec(write_spec(tmp_path, body, "clash"))


def test_an_intermediate_named_w_is_refused(tmp_path):
    body = "lr = hyper('lr', 0.1)\nx = var('w')\nspec = Spec('clash_w', [(x, 2 * g), (w, w - lr * g)])\n"
    with pytest.raises(SpecError, match="the intermediate 'w' of 'clash_w' has the name of the parameter w"):
        optgen.load_spec(write_spec(tmp_path, body, "clash_w"))


def _outside_names(fn: ast.FunctionDef) -> set[str]:
    """Names a function reads that it neither takes as an argument nor assigns."""
    local = {a.arg for a in fn.args.args}
    read = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name):
            (local.add if isinstance(node.ctx, ast.Store) else read.add)(node.id)
    return read - local


@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_generated_functions_read_only_template_names_from_outside(target):
    """TEMPLATE_NAMES is complete: every name a generated host function or kernel reads from
    outside itself (where a spec symbol would shadow it) is reserved or starts with an underscore."""
    files = sorted((GENERATED_DIR / target).glob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        for fn in _spec_functions(tree):
            stray = {n for n in _outside_names(fn) if not n.startswith("_")} - TEMPLATE_NAMES
            assert not stray, f"{path.name}: {fn.name} reads {sorted(stray)}, which a spec could shadow"


def _spec_functions(tree) -> list:
    """The module's functions whose locals are spec symbols: host and tensor stages, kernels."""
    return [n for n in tree.body if isinstance(n, ast.FunctionDef)
            and (n.name.startswith(("host_", "tensor_", "select_variant")) or n.decorator_list)]


def test_a_spec_loads_when_sympy_compares_two_equal_hyperparameters(tmp_path):
    # Regression: when hyperparameters carried their metadata, each file made its own (equal) eps,
    # SymPy's expression cache handed the second file sqrt(square_avg + eps) with the first file's,
    # and ordering the product compared eps with eps field by field, the domain included. Now a
    # symbol is its name and kind, one object for both files; each spec keeps its own declaration.
    for state_name in ("acc_delta", "x1"):
        body = f"""
            eps = hyper("eps", 1e-6)
            a, b = state("{state_name}", 0), state("square_avg", 0)
            spec = Spec("ordered", [(w, w - sqrt(a + eps) / sqrt(b + eps) * g)])
        """
        (tmp_path / state_name).mkdir()
        assert optgen.load_spec(write_spec(tmp_path / state_name, body, "ordered")).name == "ordered"
