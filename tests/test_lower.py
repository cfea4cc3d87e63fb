"""compiler/lower.py: what every target does the same way when it turns the staged IR into a template context.

The numbers checked are hand counts: Adam's one pass loads w, m, v, g and stores w, m, v;
LAMB's two passes sum two norms and then read one per-tensor value; and two variants whose
pass prints the same code share one kernel, which then compiles once.
"""
from __future__ import annotations

from optgen import abi
from optgen.compiler.driver import compile_spec
from optgen.compiler.lower import pass_abi, pass_summary, share_identical_kernels
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
