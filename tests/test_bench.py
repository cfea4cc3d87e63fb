"""``optgen bench``: model shapes, traffic, the streaming kernel, one tiny end-to-end run (no timing asserts)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from optgen.bench import ir as IR
from optgen.bench.cli import parse_size
from optgen.bench.contention import contention
from optgen.bench.floor import setup_stream, stream_kernel
from optgen.bench.impls import IMPLS, setup_numpy, setup_optgen
from optgen.bench.models import MODELS, model_shapes, numel
from optgen.bench.runner import format_table, run_bench, traffic
from optgen.cli import main


def test_model_shapes():
    gpt2 = model_shapes("gpt2-small")
    assert len(gpt2) == 148 and gpt2[0] == (50257, 768) and gpt2[1] == (1024, 768)
    assert 124_000_000 < numel(gpt2) < 125_000_000
    resnet = model_shapes("resnet50-like")
    assert len(resnet) == 161 and 25_000_000 < numel(resnet) < 26_000_000
    assert model_shapes(size=1000) == [(1000,)]
    mlp, cnn = model_shapes("mlp-100k"), model_shapes("cnn-1m")
    assert len(mlp) == 4 and numel(mlp) == 784 * 128 + 128 + 128 * 10 + 10          # 101,770
    assert len(cnn) == 10 and numel(cnn) == (32 * 27 + 32) + (64 * 288 + 64) + (128 * 576 + 128) \
        + (512 * 2048 + 512) + (10 * 512 + 10)                                       # 1,147,466
    assert set(MODELS) == {"gpt2-small", "resnet50-like", "mlp-100k", "cnn-1m"}
    with pytest.raises(ValueError):
        model_shapes("nope")


def test_traffic_follows_the_pass_structure():
    adam = traffic("adam")
    assert adam["bytes_per_element"] == 28 and len(adam["passes"]) == 1
    assert adam["passes"][0]["loads"] == ["w", "m", "v", "g"] and adam["passes"][0]["stores"] == ["w", "m", "v"]
    assert traffic("adam", dtype="float64")["bytes_per_element"] == 56
    lamb = traffic("lamb")
    assert len(lamb["passes"]) == 2 and lamb["passes"][0]["reductions"] > 0


def test_stream_kernel_moves_the_bytes_it_says():
    a, b = np.ones(1000, np.float32), np.full(1000, 3, np.float32)
    out = np.zeros(1000, np.float32)
    k = stream_kernel(2, 1, 1, "float32")
    k(a, b, out)
    assert np.all(a == 2) and np.all(out == 2) and np.all(b == 3)   # a, out written; b only read
    ir = k.inspect_llvm(k.signatures[0])
    assert IR.vector_fp_ops(IR.inner_loop_lines(ir), "float", 4)


def test_the_stream_floor_of_a_spec_with_reduced_shape_passes_runs(tmp_path):
    """A pass over rows and columns only (the row means of r c, an element value made of a row and
    a column state) moves no full-size array: the floor skips it instead of building a kernel of
    no arrays (Adafactor's mean of r was such a pass, and raised IndexError here)."""
    path = tmp_path / "rows_only.py"
    path.write_text(
        "from optgen.dsl import Spec, col_mean, g, row_mean, state, var, w\n"
        "r, c, x = state('r', 0, shape='row'), state('c', 0, shape='col'), var('x')\n"
        "spec = Spec('rows_only', [(r, row_mean(g**2)), (c, col_mean(g**2)), (x, row_mean(r * c)),\n"
        "                          (w, w - g / (x + 1))])\n")
    tr = traffic(str(path))
    assert any(not p["loads"] and not p["stores"] for p in tr["passes"])
    setup_stream({"name": str(path), "shapes": [(30, 20), (7, 3)], "dtype": "float32", "traffic": tr})()


def test_numpy_and_optgen_implementations_agree():
    cfg = {"name": "adam", "shapes": [(100,), (3, 4)], "dtype": "float64"}
    steps = [setup_numpy(cfg), setup_optgen(cfg)]
    for s in steps:
        s()   # they run; the numbers are the kernels' tests' business


def test_the_optgen_torch_implementation_steps_like_torch_adam(one_thread):
    """The bench's optgen.torch path is a real training step: three of them match torch.optim.Adam
    (same seed, same parameters and gradients; torch's defaults are the spec's)."""
    cfg = {"name": "adam", "shapes": [(100,), (3, 4)], "dtype": "float32"}
    ours, theirs = IMPLS["optgen-torch"][1](cfg), IMPLS["torch-forloop"][1](cfg)
    for _ in range(3):
        ours()
        theirs()
    mine, torch_params = ours.__self__.param_groups[0]["params"], theirs.__self__.param_groups[0]["params"]
    assert len(mine) == 2
    for a, b in zip(mine, torch_params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-6, atol=1e-7)


def test_the_torch_named_class_steps_muon_as_torch_optim_muon(one_thread):
    """``optgen-torch-class`` is optgen.torch.Muon with the torch peer's arguments: its bfloat16
    iteration is torch's, so three steps match torch.optim.Muon's to 1e-7 (the float32 iteration of
    ``optgen-torch`` is 3e-5 away); it exists where optgen.torch has torch's class, not for the
    clipped AdamW."""
    from optgen.bench.impls import DEFAULT_IMPLS
    cfg = {"name": "muon", "shapes": [(12, 8), (5, 9)], "dtype": "float32"}
    available, setup = IMPLS["optgen-torch-class"]
    assert available(cfg) and not available({**cfg, "name": "adamw_clip"})
    assert "optgen-torch-class" not in DEFAULT_IMPLS
    ours, theirs = setup(cfg), IMPLS["torch-forloop"][1](cfg)
    for _ in range(3):
        ours()
        theirs()
    for a, b in zip(ours.__self__.param_groups[0]["params"], theirs.__self__.param_groups[0]["params"]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=0, atol=1e-7)


def _neighbours() -> list[int]:
    """Processes running the contention loop (Linux: /proc)."""
    out = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"np.matmul(a, a, out=c)" in f.read():
                    out.append(int(pid))
        except (OSError, ValueError):
            continue
    return out


def test_contention_runs_a_busy_neighbour_only_inside_the_block():
    before = set(_neighbours())
    with contention(False) as text:
        assert text is None and set(_neighbours()) == before
    with contention(threads=2) as text:
        assert text == "beside a process multiplying matrices on 2 BLAS threads"
        assert len(set(_neighbours()) - before) == 1
    assert set(_neighbours()) == before  # stopped, also when the block raises:
    with pytest.raises(KeyError), contention(threads=1):
        raise KeyError("x")
    assert set(_neighbours()) == before


def test_paired_bench_through_optgen_torch_under_contention(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["bench", "adam", "--model", "mlp-100k", "--paired", "--impl", "stream,optgen,optgen-torch",
                 "--rounds", "3", "--contention", "-q", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("under contention: beside a process multiplying matrices")
    res = json.loads(out.read_text())
    assert res["contention"].startswith("beside") and set(res["results"][0]["impls"]) == {"stream", "optgen",
                                                                                         "optgen-torch"}
    assert res["results"][0]["tensors"] == 4 and res["results"][0]["size"] == 101_770


def test_tiny_run_end_to_end(tmp_path):
    res = run_bench(["sgd"], size=4096, rounds=1, impls=["stream", "optgen", "numpy"], min_time=0.01)
    (r,) = res["results"]
    assert set(r["impls"]) == {"stream", "optgen", "numpy"}
    for row in r["impls"].values():
        assert row["time_s"] > 0 and row["gbps"] > 0 and "vs_stream" in row and row["faults_per_step"] >= 0
    assert "x stream" in format_table(res) and "faults/step" in format_table(res)
    out = tmp_path / "b.json"
    assert main(["bench", "sgd", "--size", "2**12", "--rounds", "1", "--min-time", "0.01",
                 "--impl", "stream,optgen", "--json", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["results"][0]["name"] == "sgd"


def test_size_accepts_arithmetic_and_nothing_else():
    assert parse_size("2**24") == parse_size("1<<24") == parse_size("16777216") == 1 << 24
    assert parse_size("3*2**20") == 3 << 20
    for bad in ("__import__('os')", "2**10**10", "0", "-5", "1.5", "x"):
        with pytest.raises(Exception):
            parse_size(bad)


# -- paired mode -------------------------------------------------------------------------

def test_median_ci_uses_the_order_statistics():
    from optgen.bench.paired import median_ci
    # n = 100: ranks 50 ± 0.98·10 → indices floor(40.2) = 40 and ceil(59.8) = 60 of 1..100
    assert median_ci([float(x) for x in range(100, 0, -1)]) == {"median": 50.5, "lo": 41.0, "hi": 61.0}
    assert median_ci([2.0]) == {"median": 2.0, "lo": 2.0, "hi": 2.0}


def test_paired_run_end_to_end(tmp_path):
    from optgen.bench.paired import format_paired, run_paired
    from optgen.bench.report import paired_markdown
    res = run_paired(["sgd"], size=4096, rounds=5, impls=["stream", "optgen", "numpy"],
                     dtype=["float32", "float64"])
    assert res["mode"] == "paired" and [r["dtype"] for r in res["results"]] == ["float32", "float64"]
    for r in res["results"]:
        assert set(r["impls"]) == {"stream", "optgen", "numpy"}
        for row in r["impls"].values():
            assert len(row["rounds_s"]) == 5 and row["time_s"] > 0 and row["faults_per_step"] >= 0
            ci = row["vs_stream_ci"]
            assert ci["lo"] <= ci["median"] <= ci["hi"] and row["vs_stream"] == ci["median"]
            assert ("rate_vs_float32" in row) == (r["dtype"] == "float64")
    assert "95% CI" in format_paired(res) and "rate vs float32" in format_paired(res)
    assert "parameter rate vs float32" in paired_markdown(res) and "page faults / step" in paired_markdown(res)
    out = tmp_path / "p.json"
    assert main(["bench", "sgd", "--size", "1024", "--paired", "--rounds", "3", "--impl", "stream,optgen",
                 "--json", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["mode"] == "paired"


def test_paired_refuses_what_cannot_share_a_process(capsys):
    assert main(["bench", "adam", "--size", "1024", "--paired", "--impl", "optgen,optax-jit", "-q"]) == 2
    assert "optax-jit" in capsys.readouterr().err


def test_the_cold_mode_reads_twice_the_last_level_cache_before_every_timed_step(monkeypatch, capsys):
    """--cold: the evictor's buffer is twice the largest cache lscpu lists (util-linux's reading of
    the same sysfs tables), and it runs once before each timed step."""
    import shutil
    import subprocess
    from optgen.bench import paired
    assert shutil.which("lscpu"), "lscpu (util-linux) is on every machine this suite runs on"
    listed = subprocess.run(["lscpu", "--caches=NAME,ONE-SIZE", "--bytes"], capture_output=True, text=True).stdout
    sizes = [int(line.split()[1]) for line in listed.splitlines()[1:] if line.split()[1:2] and line.split()[1].isdigit()]
    assert paired.last_level_cache_bytes() == (max(sizes) if sizes else 32 << 20)
    calls = []
    real = paired.cache_evictor

    def counted():
        evict = real()
        def run():
            calls.append(1)
            evict()
        return run
    monkeypatch.setattr(paired, "cache_evictor", counted)
    from optgen.bench.runner import traffic
    cfg = {"name": "sgd", "shapes": [(1024,)], "options": {}, "dtypes": ["float32"], "impls": ["stream", "optgen"],
           "traffic": {"float32": traffic("sgd", {}, "float32")}, "rounds": 3, "cold": True}
    out = paired.run_in_process(cfg)
    assert len(calls) == 3 * 2 and all(len(v) == 3 for v in out["times"].values())
    assert paired.run_in_process({**cfg, "cold": False}) and len(calls) == 6
    assert main(["bench", "sgd", "--size", "1024", "--cold", "-q"]) == 2
    assert "--paired" in capsys.readouterr().err
    assert main(["bench", "sgd", "--size", "1024", "--paired", "--cold", "--rounds", "2", "--impl", "stream,optgen",
                 "-q"]) == 0
    assert "each from a cold cache" in capsys.readouterr().out


def test_page_faults_count_fresh_memory_and_only_that():
    """The faults column: writing 64 MiB of fresh memory faults once per page (4 KiB, or 2 MiB
    where the kernel grants huge pages: at least 32); writing it again, not at all."""
    from optgen.bench.paired import minor_faults
    f0 = minor_faults()
    fresh = np.ones(64 << 17)  # 64 MiB of float64: above glibc's mmap threshold, so freshly mapped
    assert minor_faults() - f0 >= 32
    f0 = minor_faults()
    fresh += 1.0  # already mapped: no faults
    assert minor_faults() - f0 < 4


def test_torch_compile_runs_on_request_only_and_reports_its_compile_time():
    """torch.compile's first step compiles (seconds); the paired table reports every
    implementation's first step, and the default sets never include it."""
    from optgen.bench.impls import DEFAULT_IMPLS
    from optgen.bench.paired import run_paired
    assert "torch-compile" not in DEFAULT_IMPLS and "optgen-torch" in DEFAULT_IMPLS
    res = run_paired(["sgd"], size=1000, impls=["optgen", "torch-compile"], rounds=2)
    rows = res["results"][0]["impls"]
    assert set(rows) == {"optgen", "torch-compile"}
    assert rows["torch-compile"]["first_step_s"] > rows["torch-compile"]["time_s"] > 0
    assert rows["optgen"]["first_step_s"] > 0


def test_matrix_and_axis_specs_bench_with_their_own_floor_and_peers():
    """Muon runs on the model's matrices only (five of the CNN's ten tensors), its floor runs the
    Newton–Schulz matmuls, and torch.optim.Muon, which takes 2-D tensors only, is reported as not
    run rather than failing the table; Adafactor's floor skips its pass over rows and columns."""
    from optgen.bench.paired import run_paired
    res = run_paired(["muon", "adafactor"], model="cnn-1m", rounds=2,
                     impls=["stream", "optgen", "torch-forloop", "torch-foreach"])
    muon, adafactor = res["results"]
    assert muon["tensors"] == 5 and set(muon["impls"]) == {"stream", "optgen"}
    assert "torch-forloop" in muon["not_run"] and "torch-foreach" in muon["not_run"]
    assert adafactor["tensors"] == 10 and set(adafactor["impls"]) == {"stream", "optgen", "torch-forloop",
                                                                       "torch-foreach"}
    assert traffic("muon")["passes"][0]["matrix_steps"] == [5]
