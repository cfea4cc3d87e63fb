"""compiler/lower.py: what every target does the same way when it turns the staged IR into a template context.

The numbers checked are hand counts: Adam's one pass loads w, m, v, g and stores w, m, v;
LAMB's two passes sum two norms and then read one per-tensor value; and two variants whose
pass prints the same code share one kernel, which then compiles once.
"""
from __future__ import annotations

from optgen import abi
from optgen.compiler.driver import compile_spec
from optgen.compiler.lower import pass_abi, pass_summary, share_identical_kernels
from optgen.compiler.optimize import live_host_values
from optgen.registry import load_spec


def test_pass_abi_is_the_passes_contract():
    (v,) = compile_spec(load_spec("adam")).variants.values()
    (p,) = v.passes
    a = pass_abi(p)
    assert isinstance(a, abi.Pass) and a.kernels == {}
    assert a.loads == ("w", "m", "v", "g") and a.stores == ("w", "m", "v") and a.arrays == ("w", "m", "v", "g")
    assert a.reductions == () and a.tensor_args == () and "lr" not in a.host_args  # -lr is hoisted into h*
    (lamb,) = compile_spec(load_spec("lamb")).variants.values()
    first, second = (pass_abi(q) for q in lamb.passes)
    assert len(first.reductions) == 2 and second.tensor_args == ("ratio",)


def test_the_header_counts_bytes_with_the_one_traffic_function():
    lines = pass_summary(compile_spec(load_spec("lamb")).variants)
    assert lines == ["variant 0 pass 0: 24 / 48 B (loads w, m, v, g; stores m, v; sums sum_1, sum_2)",
                     "variant 0 pass 1: 16 / 32 B (loads w, m, v; stores w)"]


def _variant(fn: str, body: list[str]) -> dict:
    a = abi.Pass(index=0, loads=("w", "g"), stores=("w",), host_args=("h0",), tensor_args=(), reductions=())
    return {"passes": [{"abi": a, "summary": "", "loads": [("w", "w"), ("g", "g")], "stores": [("w", "w_1")],
                        "kernels": [{"dtype": "float32", "fn": fn, "body": body, "reductions": []}]}]}


def test_identical_kernels_of_two_variants_are_emitted_once():
    same = ["w_1 = w - h0*g"]
    variants = [_variant("k_v0", same), _variant("k_v1", list(same)), _variant("k_v2", ["w_1 = w + h0*g"])]
    share_identical_kernels(variants)
    (k0,), (k1,), (k2,) = (v["passes"][0]["kernels"] for v in variants)
    assert (k0["emit"], k0["fn"]) == (True, "k_v0")
    assert (k1["emit"], k1["fn"]) == (False, "k_v0")   # the same code: the first one's kernel
    assert (k2["emit"], k2["fn"]) == (True, "k_v2")    # a different body: its own


def test_a_target_field_of_the_pass_keeps_kernels_apart():
    """CUDA reads per-tensor values from table columns: the same body at another column is another kernel."""
    a, b = _variant("k_v0", ["x"]), _variant("k_v1", ["x"])
    a["passes"][0]["tensor_columns"] = [("ratio", 0)]
    b["passes"][0]["tensor_columns"] = [("ratio", 3)]
    share_identical_kernels([a, b])
    assert b["passes"][0]["kernels"][0]["emit"] is True


def test_only_the_host_values_the_kernels_take_are_computed():
    import sympy
    a, b, c, lr = sympy.symbols("a b c lr")
    pairs = [(a, lr * 2), (b, a + 1), (c, lr - 1)]
    assert live_host_values(pairs, {b}) == [(a, lr * 2), (b, a + 1)]   # c feeds nothing
    assert live_host_values(pairs, {c}) == [(c, lr - 1)]


def test_every_name_a_generated_host_function_assigns_is_used():
    """Readable generated code: the host stage and select_variant of every built-in module read
    only the hyperparameters they use and compute no value nothing reads (checked on the source)."""
    import ast
    from pathlib import Path

    import optgen
    unused = []
    for path in sorted((Path(optgen.__file__).parent / "generated").glob("*/*.py")):
        for fn in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(fn, ast.FunctionDef) and (fn.name.startswith("host_") or fn.name == "select_variant"):
                assigned = {t.id for node in ast.walk(fn) if isinstance(node, ast.Assign)
                            for t in node.targets if isinstance(t, ast.Name)}
                read = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                unused += [f"{path.parent.name}/{path.name}:{fn.name}:{name}" for name in sorted(assigned - read)]
    assert not unused, unused[:10]
