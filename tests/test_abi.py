"""The kernel ABI (optgen/abi.py): every generated module states it as data, and it is true.

The runtime launches each kernel with the arguments its :class:`optgen.abi.Pass`
lists, in the ABI's order; nothing else tells it what a kernel takes. So the
check here is against the printed kernels themselves: each kernel's parameter
names (``inspect.signature``, independent of the ABI object) must be the ones the
ABI promises, in that order, for every pass of every variant of every built-in
module, CPU and CUDA. The traffic figures are hand counts of the equations.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import optgen
from optgen import abi
from optgen.compiler import driver
from optgen.compiler.driver import load_module, option_combinations
from optgen.registry import all_specs

MODULES = [(s.name, o) for s in all_specs().values() for o in option_combinations(s)]


def _cpu_parameters(p: abi.Pass) -> list[str]:
    return (["_chunk_tensor", "_chunk_start", "_chunk_stop", "_sizes"] + [f"_ptr_{a}" for a in p.arrays]
            + list(p.host_args) + [f"_tensor_{s}" for s in p.tensor_args]
            + ([f"_axis_{s}" for s in p.axis_args] + ["_axes"] if p.uses_axes else [])  # docs/axis-reductions.md
            + (["_chunk_part"] if p.axis_reductions else [])  # each chunk's first column sum
            + ["_partials"] + (["_axis_sums"] if p.uses_axes else []))


def _cuda_parameters(p: abi.Pass) -> list[str]:
    return (["_chunk_tensor", "_chunk_start", "_chunk_stop"] + [f"_table_{a}" for a in p.arrays]
            + list(p.host_args) + (["_per_tensor"] if p.tensor_args else [])
            + (["_partials"] if p.reductions else [])
            + ([*(f"_axis_{s}" for s in p.axis_args), "_axes"] if p.uses_axes else [])
            + (["_chunk_part", "_axis_sums"] if p.axis_reductions else []))


def _top_level_types(signature: str) -> list[str]:
    """'void(int32[::1], float64[:, ::1])' -> ['int32[::1]', 'float64[:, ::1]']."""
    inner, depth, parts, cur = signature[signature.index("(") + 1:-1], 0, [], ""
    for ch in inner:
        depth += (ch == "[") - (ch == "]")
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return parts + [cur.strip()]


@pytest.mark.parametrize("name,options", MODULES, ids=[f"{n}-{o}" for n, o in MODULES])
def test_every_kernel_takes_what_its_abi_says(name, options):
    for target, expected in (("cpu", _cpu_parameters), ("cuda", _cuda_parameters)):
        module = load_module(name, options, target)
        scratch = set(abi.matrix_arrays(module.VARIANTS.values()))  # the matrix steps' arrays
        assert module.TARGET == target
        for key, v in module.VARIANTS.items():
            assert isinstance(v, abi.Variant) and v.key == key
            assert [p.index for p in v.passes] == list(range(len(v.passes)))
            for p in v.passes:
                assert set(p.loads) | set(p.stores) <= set(module.ARRAYS) | scratch
                assert set(p.kernels) == {"float32", "float64"}
                for dtype, kernel in p.kernels.items():
                    fn = kernel.py_func
                    assert list(inspect.signature(fn).parameters) == expected(p), f"{target} {key} {fn.__name__}"
                    if target == "cuda":  # one numba type per parameter
                        assert len(_top_level_types(p.signatures[dtype])) == len(expected(p))
            if target == "cpu":  # a per-tensor stage after each pass but the last
                assert len(v.tensor_stages) == max(len(v.passes) - 1, 0)


def test_traffic_is_the_hand_count_of_the_equations():
    """Adam reads w, m, v, g and writes w, m, v: 7 arrays. LAMB's first pass reads w, m, v, g
    and writes m, v (and sums ||w||, ||u||); its second reads w, m, v and writes w: 10."""
    adam = load_module("adam", {}, "cpu").VARIANTS[()]
    assert abi.bytes_per_element(adam.passes, 4) == 7 * 4 and abi.bytes_per_element(adam.passes, 8) == 7 * 8
    lamb = load_module("lamb", {}, "cpu").VARIANTS[()]
    assert [(p.loads, p.stores) for p in lamb.passes] == [(("w", "m", "v", "g"), ("m", "v")),
                                                          (("w", "m", "v"), ("w",))]
    assert abi.bytes_per_element(lamb.passes, 4) == 10 * 4
    assert lamb.passes[0].arrays == ("w", "m", "v", "g") and abi.max_reductions([lamb]) == 2


SPEC = "from optgen.dsl import Spec, hyper, w, g\nlr = hyper('lr', 0.5)\nspec = Spec('old_abi', [(w, w - lr * g)])\n"


def test_a_module_of_an_older_abi_is_rebuilt_not_run(tmp_path, monkeypatch, one_thread):
    """A cached module with the current header but the dict layout of optgen's first ABI
    would fail inside a step; it is rebuilt instead (with a warning), and the step is right."""
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "old_abi.py"
    path.write_text(SPEC)
    module_file = driver.load_module(str(path)).__file__
    text = open(module_file, encoding="utf-8").read()
    head = text[:text.index("VARIANT_v0 = ")]
    old = head + ('VARIANT_v0 = {"host": host_v0, "tensor_stages": [], "passes": []}\n'
                  "VARIANTS = { (): VARIANT_v0, }\n")
    open(module_file, "w").write(old)
    driver._modules.clear()
    with pytest.warns(RuntimeWarning, match="older optgen"):
        module = driver.load_module(str(path))
    assert isinstance(module.VARIANTS[()], abi.Variant)
    w = np.array([1.0])
    optgen.create(str(path), [w]).step([np.array([1.0])])
    assert w[0] == 0.5  # 1 - 0.5 * 1
