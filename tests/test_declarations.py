"""Spec declarations: one table per spec (name -> Declaration) over symbols that carry nothing.

A hyperparameter, option or state is a cached SymPy symbol of its kind: every spec's
``lr`` is one object. What a spec says about it (default or init, domain, LaTeX, doc)
is in ``spec.declarations``, filled when the spec is made, so two specs declaring one
name differently never interfere, transforms derive tables without copying anything
onto symbols, and the verifier compares specs and claims without translating symbols.
"""
import textwrap

import numpy as np
import pytest
import sympy

import optgen
from optgen.declarations import Declaration
from optgen.dsl import Spec, hyper, option, state, var, w, g, t
from optgen.spec import Hyper, SpecError
from optgen.transforms import decoupled_weight_decay, lookahead, with_defaults
from optgen.verify import GRAD, Equivalence, Side, run, unroll
from optgen.verify.symbols import sym, variables


def test_two_specs_in_memory_keep_their_own_default_and_domain_of_one_symbol():
    lr = hyper("lr_decl", 1e-3, latex=r"\eta", domain="positive", doc="first")
    first = Spec("decl_first", [(w, w - lr * g)])
    lr2 = hyper("lr_decl", 0.5, domain="[0, 1]", doc="second")
    second = Spec("decl_second", [(w, w - lr2 * g)])
    assert lr2 is lr and first.hyper_symbols == second.hyper_symbols == [lr]
    d1, d2 = first.declarations["lr_decl"], second.declarations["lr_decl"]
    assert (d1.default, d1.domain.text, d1.latex, d1.doc) == (1e-3, "positive", r"\eta", "first")
    assert (d2.default, d2.domain.text, d2.latex, d2.doc) == (0.5, "[0, 1]", "lr_decl", "second")
    assert first.hypers == {"lr_decl": 1e-3} and second.hypers == {"lr_decl": 0.5}


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


def test_two_spec_files_declaring_lr_differently_never_interfere(tmp_path):
    # the second file loads the first while it runs, between its declaration and its Spec
    write(tmp_path / "decl_a.py", """
        from optgen.dsl import Spec, hyper, w, g
        lr = hyper("lr", 0.25, domain="(0, 1)", doc="file a")
        spec = Spec("decl_a", [(w, w - lr * g)])
    """)
    write(tmp_path / "decl_b.py", f"""
        from optgen.dsl import Spec, hyper, w, g
        from optgen.registry import load_spec
        lr = hyper("lr", 3.0, domain="positive", doc="file b")
        other = load_spec({str(tmp_path / "decl_a.py")!r}).name
        spec = Spec("decl_b", [(w, w - lr * g)])
    """)
    b = optgen.load_spec(str(tmp_path / "decl_b.py"))
    a = optgen.load_spec(str(tmp_path / "decl_a.py"))
    assert a.hyper_symbols[0] is b.hyper_symbols[0]
    assert (a.hypers, a.declarations["lr"].domain.text) == ({"lr": 0.25}, "(0, 1)")
    assert (b.hypers, b.declarations["lr"].domain.text) == ({"lr": 3.0}, "positive")
    with pytest.raises(SpecError, match=r"lr=2.0 is outside its domain \(0, 1\)"):
        optgen.reference(a, [np.zeros(3)], lr=2.0)
    optgen.reference(b, [np.zeros(3)], lr=2.0)


def test_a_family_file_declaring_a_name_twice_gives_each_spec_its_own(tmp_path):
    path = write(tmp_path / "decl_family.py", """
        from optgen.dsl import Spec, hyper, w, g
        lr = hyper("lr", 0.1)
        slow = Spec("decl_slow", [(w, w - lr * g)])
        lr = hyper("lr", 0.9)
        fast = Spec("decl_fast", [(w, w - lr * g)])
    """)
    specs = {s.name: s for s in optgen.registry.load_file(path)}
    assert specs["decl_slow"].hypers == {"lr": 0.1} and specs["decl_fast"].hypers == {"lr": 0.9}


def test_a_spec_built_later_by_a_function_takes_its_own_modules_declarations():
    namespace: dict = {}
    exec(textwrap.dedent("""
        from optgen.dsl import Spec, hyper, state, w, g
        lr = hyper("lr_lazy", 0.1)
        v = state("v_lazy", 0)
        def make():
            return Spec("decl_lazy", [(v, v + g), (w, w - lr * v)])
    """), namespace)
    state("v_lazy", w)            # another module's state of that name, declared since
    hyper("lr_lazy", 7.0)
    spec = namespace["make"]()
    assert spec.declarations["v_lazy"].init == 0 and spec.hypers == {"lr_lazy": 0.1}


def test_the_table_lists_declarations_in_the_order_they_were_declared():
    b = hyper("b_order", 0.5)
    a = hyper("a_order", 0.1)
    flag = option("flag_order", False)
    m = state("m_order", init=a)          # a state's init brings its hyperparameter in
    spec = Spec("decl_order", [(m, b * m + g), (w, when_flag(flag, w - m))])
    assert list(spec.declarations) == ["b_order", "a_order", "flag_order", "m_order"]
    assert [d.kind for d in spec.declarations.values()] == ["hyper", "hyper", "option", "state"]
    assert isinstance(spec.declarations["m_order"], Declaration) and spec.states[0].init == a


def when_flag(flag, expr):
    from optgen.dsl import when
    return when(flag, -expr, expr)


def test_transforms_derive_tables_in_the_inner_order_without_touching_symbols():
    adam = optgen.load_spec("adam")
    order = list(adam.declarations)
    tuned = with_defaults(adam, beta1=0.5, amsgrad=True)
    assert list(tuned.declarations) == order and tuned.equations == adam.equations
    assert (tuned.hypers["beta1"], tuned.options["amsgrad"]) == (0.5, True)
    assert (adam.hypers["beta1"], adam.options["amsgrad"]) == (0.9, False)   # the inner spec is untouched
    look = lookahead(tuned, k=3)
    assert list(look.declarations) == [*order, "k", "alpha", "phi"]
    assert look.declarations["phi"].init == w and look.declarations["k"].default == 3
    # the decoupled decay takes the place of Adam's L2 term of the same name
    adamw = decoupled_weight_decay(adam, weight_decay=0.05)
    assert list(adamw.declarations) == order
    assert adamw.declarations["weight_decay"].domain.text == "nonnegative"
    assert adamw.hypers["weight_decay"] == 0.05 and adam.hypers["weight_decay"] == 0.0


def test_a_declared_hyper_given_to_a_transform_brings_its_declaration():
    sync = hyper("sync_decl", 4, domain="positive_integer", doc="my sync period")
    spec = lookahead("sgd", k=sync)
    assert spec.declarations["sync_decl"].doc == "my sync period" and spec.hypers["sync_decl"] == 4


def test_an_undeclared_symbol_and_a_name_of_two_kinds_are_refused():
    with pytest.raises(SpecError, match="hyperparameter 'never_declared_x' of 'decl_bad' is never declared"):
        Spec("decl_bad", [(w, w - Hyper("never_declared_x") * g)])
    x_h, x_s = hyper("x_twice", 0.1), state("x_twice", 0)
    with pytest.raises(SpecError, match="'x_twice' is declared both as hyperparameter and as state"):
        Spec("decl_twice", [(x_s, x_s + x_h * g), (w, w - x_s)])


def test_latex_of_declared_symbols_comes_from_the_table():
    lr = hyper("lr_tex", 0.1, latex=r"\eta")
    m = state("m_tex", 0, latex=r"\mu")
    spec = Spec("decl_tex", [(m, m + g), (w, w - lr * m)])
    assert sympy.latex(lr * m, symbol_names=spec.latex_names) == r"\eta \mu"


def test_verify_compares_a_spec_with_the_dsl_symbols_of_a_claim_directly():
    lr = hyper("lr", 0.1, domain="positive")
    traj = unroll(Side("sgd", hypers={"weight_decay": 0}), 2)
    w0 = sym("w_0")
    assert sympy.expand(traj.value(w, 2)[0] - (w0 - lr * GRAD[1] - lr * GRAD[2])) == 0
    assert variables(traj.value("w", 1)[0]) == {w0, lr, GRAD[1]}
    # a spec of the claim's own (same lr, another default) is equivalent to sgd with that lr
    mine = Spec("decl_mine", [(var("step"), lr * g), (w, w - var("step"))])
    c = Equivalence(name="decl_mine_is_sgd", left=Side(mine), right=Side("sgd", hypers={"weight_decay": 0}),
                    steps=3)
    r = run(c)
    assert r.outcome == "PASS" and r.method == "symbolic"
    assert t.is_integer and t.is_positive and lr.is_real
