"""Properties of the compiled CPU kernels that decide their speed (no wall-clock asserts).

(a) float32 kernels stay float32: no double-precision instruction in any innermost
    loop of the ``prange`` body (see optgen/bench/ir.py for how loops are found),
    but for a per-tensor sum, which widens its summand and accumulates in float64
    (widening, adding, multiplying doubles; never narrowing back, dividing or comparing);
(b) the per-element loop vectorises (vector float arithmetic in the innermost loops);
(c) host-stage work is not in the kernel: the step ``t`` is never a kernel
    argument and no power function is called per element;
(d) a step allocates nothing proportional to the number of parameters.

Each check is also run on a kernel written to violate it, so that it can fail.
Timing lives in ``optgen bench`` (docs/performance.md), never in tests.
"""
from __future__ import annotations

import functools
import inspect
import math
import re
import tracemalloc

import numba
import numpy as np
import pytest

import optgen
from optgen.abi import Pass
from optgen.bench import ir as IR
from optgen.compiler.driver import load_module, module_stem, option_combinations
from optgen.registry import all_specs
from optgen.runtime.pointers import as_pointer


def _modules():
    """Every spec with its default options, and with every option switched on."""
    out = []
    for spec in sorted(all_specs().values(), key=lambda s: s.name):
        combos = option_combinations(spec)
        for options in {module_stem(spec, o): o for o in (combos[0], combos[-1])}.values():
            out.append(pytest.param(spec.name, options, id=module_stem(spec, options)))
    return out


MODULES = _modules()


def _kernels(name, options, dtype="float32"):
    """(label, kernel, pass info) of every pass of every variant of one generated module."""
    module = load_module(name, options, "cpu")
    for key, variant in module.VARIANTS.items():
        for q, p in enumerate(variant.passes):
            yield f"variant {key} pass {q}", p.kernels[dtype], p


@functools.lru_cache(maxsize=None)
def _ir(name, options_items, dtype="float32"):
    """label -> (LLVM IR, kernel source) for one module; compiled once per test process."""
    out = {}
    for label, kernel, p in _kernels(name, dict(options_items), dtype):
        out[label] = (IR.kernel_ir(kernel, p, dtype), inspect.getsource(kernel.py_func))
    return out


def ir_of(name, options, dtype="float32"):
    return _ir(name, tuple(sorted(options.items())), dtype)


def reducing(name, options) -> set:
    """Labels of the passes that compute sums (per tensor, or per row and column: float64 either way)."""
    return {label for label, _, p in _kernels(name, options) if p.reductions or p.axis_reductions}


# -- kernels written to fail each check ---------------------------------------------------

def _promoting(chunk_tensor, chunk_start, chunk_stop, sizes, ptr_w, lr, partials):
    for c in numba.prange(chunk_tensor.shape[0]):
        k = chunk_tensor[c]
        w_k = numba.carray(as_pointer(ptr_w[k]), sizes[k], np.float32)
        for i in range(chunk_start[c], chunk_stop[c]):
            w_k[i] = w_k[i] - lr * 0.5 * w_k[i]   # a Python float: promotes the float32 to double


def _host_in_kernel(chunk_tensor, chunk_start, chunk_stop, sizes, ptr_w, beta, t, partials):
    for c in numba.prange(chunk_tensor.shape[0]):
        k = chunk_tensor[c]
        w_k = numba.carray(as_pointer(ptr_w[k]), sizes[k], np.float32)
        for i in range(chunk_start[c], chunk_stop[c]):
            w_k[i] = w_k[i] * (np.float32(1.0) - beta**t)   # a bias correction per element


def _allocating(chunk_tensor, chunk_start, chunk_stop, sizes, ptr_w, lr, partials):
    for c in numba.prange(chunk_tensor.shape[0]):
        k = chunk_tensor[c]
        w_k = numba.carray(as_pointer(ptr_w[k]), sizes[k], np.float32)
        tmp = np.empty(w_k.shape[0], np.float32)              # a hidden temporary
        for i in range(chunk_start[c], chunk_stop[c]):
            tmp[i] = lr * w_k[i]
        for i in range(chunk_start[c], chunk_stop[c]):
            w_k[i] = w_k[i] - tmp[i]


def _promoting_sum(chunk_tensor, chunk_start, chunk_stop, sizes, ptr_w, lr, partials):
    for c in numba.prange(chunk_tensor.shape[0]):
        k = chunk_tensor[c]
        w_k = numba.carray(as_pointer(ptr_w[k]), sizes[k], np.float32)
        acc = 0.0
        for i in range(chunk_start[c], chunk_stop[c]):
            w_k[i] = w_k[i] - lr * 0.5 * w_k[i]   # promoted to double, narrowed back by the store
            acc += np.float64(w_k[i]) * np.float64(w_k[i])
        partials[c, 0] = acc


def _scalar_division(chunk_tensor, chunk_start, chunk_stop, sizes, ptr_w, lr, partials):
    for c in numba.prange(chunk_tensor.shape[0]):
        k = chunk_tensor[c]
        w_k = numba.carray(as_pointer(ptr_w[k]), sizes[k], np.float32)
        x = np.float32(1.0)
        for i in range(chunk_start[c], chunk_stop[c]):
            x = x / w_k[i]                         # each quotient needs the last: scalar
            w_k[i] = x


def _bad_ir(fn, n_host):
    p = Pass(index=0, loads=("w",), stores=("w",), host_args=("lr",) * n_host, tensor_args=(), reductions=())
    return IR.kernel_ir(numba.njit(parallel=True)(fn), p, "float32")


# -- (a) float32 stays float32 ------------------------------------------------------------

def test_double_check_finds_double_arithmetic():
    bad = IR.double_ops(IR.inner_loop_lines(_bad_ir(_promoting, 1)))
    assert any("fmul double" in s or "fpext" in s for s in bad), bad
    adam64 = ir_of("adam", {}, "float64")
    lines = IR.inner_loop_lines(next(iter(adam64.values()))[0])
    assert lines and IR.double_ops(lines), "the float64 Adam kernel computes in double"


def test_sum_double_check_finds_promoted_element_arithmetic():
    lines = IR.inner_loop_lines(_bad_ir(_promoting_sum, 1))
    assert any("fmul" in s and "double" in s for s in IR.double_ops(lines)), "the sum is in double"
    assert any("fptrunc" in s for s in IR.double_ops_beyond_sums(lines))


@pytest.mark.parametrize("name,options", MODULES)
def test_float32_kernels_have_no_double_precision_in_the_loop(name, options):
    sums = reducing(name, options)
    for label, (text, _) in ir_of(name, options).items():
        lines = IR.inner_loop_lines(text)
        assert lines, f"{name} {label}: no innermost loop found in the prange body"
        doubles = IR.double_ops_beyond_sums(lines) if label in sums else IR.double_ops(lines)
        assert not doubles, f"{name} {label}: double precision in the float32 inner loop:\n" + "\n".join(doubles[:10])


@pytest.mark.parametrize("name", ["lars", "lamb"])
def test_float32_per_tensor_sums_accumulate_in_double(name):
    sums = reducing(name, {})
    assert sums
    for label, (text, _) in ir_of(name, {}).items():
        if label in sums:
            lines = IR.inner_loop_lines(text)
            assert IR.vector_fp_ops(lines, "double", 2) and any("fpext" in s for s in lines), label


# -- (b) the inner loop vectorises ----------------------------------------------------------

def test_adam_float32_inner_loop_vectorises():
    for label, (text, _) in ir_of("adam", {}).items():
        vec = IR.vector_fp_ops(IR.inner_loop_lines(text), "float", min_width=8)
        assert vec, f"adam {label}: no <8 x float> (or wider) arithmetic in the inner loop"
        assert any("sqrt" in s for s in IR.vector_fp_ops(IR.inner_loop_lines(text), "float", 8)), \
            "adam: the square root is not vectorised"


@pytest.mark.parametrize("name,options", MODULES)
def test_every_float32_kernel_vectorises(name, options):
    sums = reducing(name, options)
    for label, (text, _) in ir_of(name, options).items():
        lines = IR.inner_loop_lines(text)
        # a pass that only sums (LARS's norms) computes in double: 4 doubles are a 256-bit vector
        assert IR.vector_fp_ops(lines, "float", min_width=4) or (
            label in sums and IR.vector_fp_ops(lines, "double", min_width=4)), \
            f"{name} {label}: the inner loop does not vectorise"


@pytest.mark.parametrize("name,options", MODULES)
def test_every_float32_division_vectorises(name, options):
    """A division per element is a vector division (a quotient is the dearest arithmetic of a pass;
    scalar, Adafactor's pass over g^2/v would be bound by it rather than by memory)."""
    for label, (text, _) in ir_of(name, options).items():
        lines = IR.inner_loop_lines(text)
        if any(re.search(r"\bfdiv\b", s) for s in lines):
            assert any(re.search(r"\bfdiv\b", s) for s in IR.vector_fp_ops(lines, "float", 4)), \
                f"{name} {label}: a division in the inner loop is scalar"


def _host_loop_ir(fn, *args) -> list:
    """The innermost loops of a runtime helper (not a kernel: no ``prange``), compiled afresh with
    its own options for the types of ``args``."""
    ir = IR.function_ir(fn, tuple(numba.typeof(a) for a in args))
    body, = [b for n, b in IR.functions(ir).items()
             if fn.__name__ in n and "cpython" not in n and not n.startswith("cfunc")]  # not its wrappers
    return IR.innermost_loops(body)


def test_the_column_means_of_split_matrices_vectorise():
    """``column_means`` (runtime/axes.py) adds the later chunks' column sums and divides every
    column by its count: both loops vectorise (with signed indices and Python's division, which
    checks for zero and raises, neither did; the small CNN's 33k columns took 74 us, now 19.5)."""
    from optgen.runtime.axes import AxisTable, column_means
    layout = AxisTable([(9000, 20), (7, 5)], np.float32, 1, 2, {}, threads=2)  # the first split in runs of rows
    n = layout.size["col"]
    assert layout.n_part_sums > 0
    loops = _host_loop_ir(column_means, layout.sums[1, :n], layout.sums[1, n:n + layout.n_part_sums],
                          *layout.part_table, layout.count["col"], np.empty(n))
    ops = IR.vector_fp_ops([s for loop in loops for _, lines in loop for s in lines], "double", 2)
    assert any(re.search(r"\bfadd\b", s) for s in ops), "column_means: the parts are added one at a time"
    assert any(re.search(r"\bfdiv\b", s) for s in ops), "column_means: the division is scalar"


def test_vector_check_finds_scalar_loops():
    lines = IR.inner_loop_lines(_bad_ir(_promoting, 1))
    assert not IR.vector_fp_ops(lines, "float", 4)
    lines = IR.inner_loop_lines(_bad_ir(_scalar_division, 1))
    assert any(re.search(r"\bfdiv\b", s) for s in lines)
    assert not any(re.search(r"\bfdiv\b", s) for s in IR.vector_fp_ops(lines, "float", 4))


# -- (c) host-stage work stays on the host ---------------------------------------------------

@pytest.mark.parametrize("name,options", MODULES)
def test_host_stage_is_not_in_the_kernel(name, options):
    module = load_module(name, options, "cpu")
    for label, kernel, p in _kernels(name, options):
        params = list(inspect.signature(kernel.py_func).parameters)
        assert "t" not in params, f"{name} {label}: the step t is a kernel argument"
        assert "t" not in p.host_args
    for label, (text, source) in ir_of(name, options).items():
        if "**" in source:   # a per-element power the spec asks for (none of ours do today)
            continue
        assert not IR.pow_calls(text), f"{name} {label}: pow called in the kernel: {IR.pow_calls(text)[:3]}"
    assert module.VARIANTS


def test_pow_check_finds_pow():
    assert IR.pow_calls(_bad_ir(_host_in_kernel, 2))


# -- (d) no allocation proportional to size ------------------------------------------------

def test_no_allocation_in_the_prange_body():
    for name in ("adam", "lamb"):
        for label, (text, _) in ir_of(name, {}).items():
            body = "\n".join(line for b in IR.parfor_functions(text).values() for line in b)
            assert "NRT_MemInfo_alloc" not in body, f"{name} {label} allocates in the kernel"
    bad = "\n".join(line for b in IR.parfor_functions(_bad_ir(_allocating, 1)).values() for line in b)
    assert "NRT_MemInfo_alloc" in bad


def _peak_during_steps(opt, grads, steps=3) -> int:
    opt.step(grads)          # compile / load the cache, build the address tables
    opt.step(grads)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(steps):
            opt.step(grads)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


@pytest.mark.parametrize("name", ["adam", "lamb", "radam"])
def test_a_step_allocates_nothing_proportional_to_size(name):
    rng = np.random.default_rng(0)
    shapes = [(1 << 21,), (512, 1024), (3, 5), (1000,)]
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    params += [rng.standard_normal((1 << 20,))]           # a float64 group too
    grads += [rng.standard_normal((1 << 20,))]
    nbytes = sum(p.nbytes for p in params)
    opt = optgen.create(name, params)
    peak = _peak_during_steps(opt, grads)
    assert peak < 64 * 1024, f"{name}: a step allocated {peak} B at peak ({nbytes} B of parameters)"
    # fresh gradient arrays every step (as autograd makes them): still nothing proportional to size
    opt.step([g.copy() for g in grads])   # the first time compiles typed-list code: not per step
    new = [g.copy() for g in grads]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        opt.step(new)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, f"{name}: a step with new gradient arrays allocated {peak} B"


def test_a_step_of_adafactor_makes_no_array_per_row_or_column():
    """After the first steps, a whole step of factored Adafactor allocates nothing of the size of
    its rows or columns (160 and 80 kB here, in float64): the per-tensor stage's loops
    (compiler/stage_loops.py) store into arrays the runtime keeps, and so do the means over each
    matrix. The numpy stage made each operation's result anew: 484 kB at peak here, 3.6 MB on
    GPT-2 small. (The matrices are narrow: a pass-0 kernel keeps a float32 sum per column.)"""
    rng = np.random.default_rng(0)
    shapes = [(20000, 8), (4, 8, 2500)]  # 20032 rows, 10008 columns
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    opt = optgen.create("adafactor", params)
    peak = _peak_during_steps(opt, [rng.standard_normal(s).astype(np.float32) for s in shapes])
    assert peak < 64 * 1024, f"a step allocated {peak} B at peak"


def test_the_rows_and_columns_plumbing_reuses_its_arrays():
    """Adafactor's values per row and column as the runtime hands them around (the states in
    float64, the means from the kernels' sums, the kernels' row and column arguments, the kept
    new states): after the first step, arrays of its own, not new ones. New ones each step were
    8.6 MB on GPT-2 small that glibc gave back and mapped fresh: 2,189 page faults a step."""
    rng = np.random.default_rng(0)
    shapes = [(20000, 8), (8, 20000)]  # 160 kB per float64 array of rows or columns
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    opt = optgen.create("adafactor", params)
    opt.step([rng.standard_normal(s).astype(np.float32) for s in shapes])
    (_, part), = [(idx, o) for idx, o in opt.parts if o.groups[0].axes is not None]
    ax, (variant,) = part.groups[0].axes, part.module.VARIANTS.values()
    size = {name: ax.size[kind] for name, kind in ax.kinds.items()}
    finals = {final: np.ones(size[name]) for final, name in ax.finals.items()}
    # the values per row or column that the per-tensor stages make, which the kernels take
    made = {s: np.ones(ax.size[p.axis_kinds[s]]) for p in variant.passes for s in p.axis_args}
    assert made and any(p.axis_reductions for p in variant.passes)

    def plumbing():
        values = {**ax.inputs(), **finals, **made}
        for p in variant.passes:
            ax.axis_arguments(p, values)
            if p.axis_reductions:
                ax.means(p, values)
        ax.keep(finals, values)
    plumbing()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        plumbing()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024, f"the runtime's rows and columns allocated {peak} B at peak"


def test_a_kept_state_is_its_own_kernel_argument():
    """Adafactor's passes 1 and 2 read the new row statistic and the column factor. The row
    statistic's argument is the row state's own buffer, which holds it rounded to the kernel's
    dtype (converting it again for each pass was the same values); the column factor is one
    array of its float32 values for both passes."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((30, 20)).astype(np.float32)]
    opt = optgen.create("adafactor", params)
    (_, part), = opt.parts
    ax = part.groups[0].axes
    seen = []

    def recorded(p, values, made=ax.axis_arguments):
        args = made(p, values)
        seen.append((p.index, dict(zip(p.axis_args, args)), {s: np.array(values[s]) for s in p.axis_args}))
        return args
    ax.axis_arguments = recorded
    opt.step([rng.standard_normal((30, 20)).astype(np.float32)])
    (i1, args1, values1), (i2, args2, _) = [call for call in seen if call[1]]  # pass 0 reads none
    assert (i1, i2) == (1, 2) and set(args1) == set(args2) == {"row_var_1", "col_value_0"}
    assert args1["row_var_1"] is ax.flat["row_var"] and args2["row_var_1"] is ax.flat["row_var"]
    assert args1["col_value_0"] is args2["col_value_0"] and args1["col_value_0"].dtype == np.float32
    np.testing.assert_array_equal(args1["col_value_0"], values1["col_value_0"].astype(np.float32))
    np.testing.assert_array_equal(ax.flat["row_var"], values1["row_var_1"].astype(np.float32))
    np.testing.assert_array_equal(opt.state_dict()["states"][0]["row_var"].reshape(-1), ax.flat["row_var"])


def test_the_allocation_check_sees_a_temporary():
    rng = np.random.default_rng(0)
    w = rng.standard_normal(1 << 20).astype(np.float32)

    class Naive:
        def step(self, grads):
            w[...] = w - np.float32(1e-3) * grads[0]   # two temporaries of the tensor's size

    assert _peak_during_steps(Naive(), [w.copy()]) >= w.nbytes
    assert math.isfinite(float(w[0]))
