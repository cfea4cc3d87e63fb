"""`optgen bench --device cuda` runs end to end (timings are meaningless in the simulator).

The traffic it divides by is checked against hand counts: Adam reads w, g, m, v and
writes w, m, v (7 arrays); LAMB's two passes read w, g, m, v / write m, v, then read
w, m, v / write w (10 arrays), each of 4 bytes per float32 element.
"""
import numba
import pytest

from optgen.bench.cuda import bench_cuda, format_cuda_table


@pytest.mark.parametrize("name,arrays_moved", [("adam", 7), ("lamb", 10)])
def test_cuda_bench_reports_the_traffic_of_the_passes(name, arrays_moved):
    res = bench_cuda([name], size=777, warmup=1, rounds=2)
    (row,) = res["results"]
    assert row["elements"] == 777 and row["tensors"] == 1
    assert row["bytes_per_step"] == arrays_moved * 4 * 777
    table = format_cuda_table(res)
    assert name in table and res["device"] in table
    if numba.config.ENABLE_CUDASIM:
        assert res["device"] == "CUDA simulator"


def test_cli_runs_the_cuda_bench(capsys):
    from optgen.cli import main
    assert main(["bench", "adam", "--device", "cuda", "--size", "300", "-q"]) == 0
    assert "adam" in capsys.readouterr().out
