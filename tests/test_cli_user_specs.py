"""A user's own specs are first-class in every command: the same lookup (a name, a spec
file, a directory) for build, docs, verify, check, bench; files that are no spec are
skipped with one line; a spec shadowing a built-in is said so; ``optgen new`` writes a
test the user can run; ``python -m optgen`` is the ``optgen`` command."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import optgen
from optgen import registry
from optgen.cli import main
from optgen.registry import GENERATED_DIR, ROOT

SPEC = '''
"""Plain descent: w <- w - lr g (a user's spec)."""
from optgen.dsl import Spec, hyper, w, g
lr = hyper("lr", 0.1, domain="positive", doc="step size")
spec = Spec("{name}", [(w, w - lr * g)])
'''

CLAIMS = '''
from optgen.verify import Equivalence, Side
claims = [Equivalence(name="{name}_is_sgd", left=Side("{name}"), right=Side("sgd", hypers={{"weight_decay": 0}}),
                      statement="plain descent is SGD without weight decay", steps=2)]
'''


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A directory of a user's specs, not on OPTGEN_SPEC_PATH, with a fresh kernel cache."""
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("OPTGEN_SPEC_PATH", raising=False)
    monkeypatch.setattr(registry, "_noticed", set())  # every notice is printed afresh
    d = tmp_path / "mine"
    d.mkdir()
    (d / "plain_gd.py").write_text(SPEC.format(name="plain_gd"))
    return d


def test_build_takes_a_spec_file_and_a_directory(user_dir, capsys):
    assert main(["build", str(user_dir / "plain_gd.py"), "--target", "cpu", "-q"]) == 0
    assert "1 written" in capsys.readouterr().out
    assert main(["build", str(user_dir), "--target", "cpu", "-q"]) == 0
    assert "1 current" in capsys.readouterr().out


def test_the_kernel_header_names_a_command_that_works_for_the_users_file(user_dir, capsys):
    assert main(["build", str(user_dir / "plain_gd.py"), "--target", "cpu", "-q"]) == 0
    (module,) = (Path(os.environ["OPTGEN_CACHE_DIR"])).rglob("plain_gd.py")
    header = module.read_text(encoding="utf-8").splitlines()[2]
    command = header.split("`")[1]
    assert command == f"optgen build {(user_dir / 'plain_gd.py').resolve()}"
    assert main(command.split()[1:] + ["-q", "--target", "cpu"]) == 0
    # a built-in's header keeps naming it by its name
    assert "run `optgen build adam`" in (GENERATED_DIR / "cpu" / "adam.py").read_text(encoding="utf-8")


def test_build_of_an_unknown_name_says_what_a_spec_can_be(user_dir, capsys):
    assert main(["build", "no_such_optimizer"]) == 2
    err = capsys.readouterr().err
    assert "'no_such_optimizer'" in err and "spec file" in err and "directory" in err


def test_files_that_are_no_spec_are_skipped_with_one_line_and_never_executed(user_dir, monkeypatch, capsys):
    marker = user_dir / "executed"
    (user_dir / "helper.py").write_text(f"import optgen\nopen({str(marker)!r}, 'w').close()\n")
    (user_dir / "empty_spec.py").write_text("import optgen\nspec = None\n")
    (user_dir / "test_plain_gd.py").write_text("raise SystemExit('a test file must not be scanned')\n")
    monkeypatch.setenv("OPTGEN_SPEC_PATH", str(user_dir))
    assert main(["list"]) == 0
    out, err = capsys.readouterr()
    assert "plain_gd" in out and "adam" in out
    assert not marker.exists(), "listing executed a file that does not look like a spec"
    lines = [line for line in err.splitlines() if "skipped" in line]
    assert len(lines) == 2, err
    assert any("helper.py" in line and "does not look like a spec" in line for line in lines)
    assert any("empty_spec.py" in line and "defines no Spec" in line for line in lines)


def test_a_spec_named_like_a_builtin_is_shadowed_and_said_so(user_dir, monkeypatch, capsys):
    (user_dir / "my_sgd.py").write_text(SPEC.format(name="sgd"))
    monkeypatch.setenv("OPTGEN_SPEC_PATH", str(user_dir))
    assert main(["list"]) == 0
    err = capsys.readouterr().err
    assert f"specs/sgd.py shadows {(user_dir / 'my_sgd.py').resolve()}" in err
    assert optgen.load_spec("sgd").source == "optgen/specs/sgd.py"
    assert optgen.load_spec(str(user_dir / "my_sgd.py")).hypers == {"lr": 0.1}  # still reachable by its path


def test_docs_take_a_spec_file_and_an_output_directory(user_dir, tmp_path, capsys):
    out = tmp_path / "pages"
    assert main(["docs", str(user_dir / "plain_gd.py"), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["plain_gd.md"]
    page = (out / "plain_gd.md").read_text(encoding="utf-8")
    assert page.startswith("# plain_gd") and "| `lr` |" in page and "w &\\leftarrow" in page
    assert main(["docs", str(user_dir / "plain_gd.py"), "--out", str(out), "--check"]) == 0


def test_verify_finds_the_claims_beside_a_users_spec(user_dir, capsys):
    (user_dir / "derivations").mkdir()
    (user_dir / "derivations" / "mine.py").write_text(CLAIMS.format(name="plain_gd"))
    for target in [user_dir / "plain_gd.py", user_dir / "derivations" / "mine.py", user_dir]:
        assert main(["verify", str(target)]) == 0, target
        out = capsys.readouterr().out
        assert "plain_gd_is_sgd" in out and "PASS" in out and "1 claims: 1 proved" in out


def test_verify_says_where_it_looked_when_a_spec_has_no_claims(user_dir, capsys):
    assert main(["verify", str(user_dir / "plain_gd.py")]) == 2
    assert f"no claims about 'plain_gd' in {(user_dir / 'derivations').resolve()}/" in capsys.readouterr().err


def test_the_verify_formatter_is_public(user_dir):
    from optgen.verify import format_results, verify
    (user_dir / "derivations").mkdir()
    (user_dir / "derivations" / "mine.py").write_text(CLAIMS.format(name="plain_gd"))
    results = verify([str(user_dir / "plain_gd.py")])
    text = format_results(results, verbose=True)
    assert "plain_gd_is_sgd" in text and text.rstrip().splitlines()[-1].startswith("1 claims: 1 proved")
    assert str(results[0]).startswith("plain_gd_is_sgd: PASS")


def test_new_writes_a_test_that_passes_and_check_gives_a_verdict_per_combination(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["new", "my_opt", "--dir", str(tmp_path / "mine")]) == 0
    assert "test_my_opt.py" in capsys.readouterr().out
    test_file = tmp_path / "mine" / "test_my_opt.py"
    assert test_file.is_file() and "optgen check my_opt.py" in test_file.read_text(encoding="utf-8")
    assert main(["check", str(tmp_path / "mine" / "my_opt.py"), "--steps", "3", "-q"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok   my_opt [maximize=False]: float32 ok") and "float64 ok" in out[0]
    assert out[1].startswith("ok   my_opt [maximize=True]:")
    assert out[2] == "4 of 4 cases agree with the equations"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "4 passed, 1 skipped" in run.stdout


def test_the_peer_comparison_catches_a_wrong_peer_and_accepts_a_right_one(one_thread):
    """SGD by hand (w <- w - lr (g + wd w), torch.optim.SGD's rule) agrees; a doubled step does not."""
    from optgen.checking import compare_with_peer

    def peer(factor):
        def make(params):
            def step(grads):
                for p, gr in zip(params, grads):
                    p -= factor * 1e-3 * gr
            return step
        return make

    assert compare_with_peer("sgd", peer(1.0), steps=5).ok
    bad = compare_with_peer("sgd", peer(2.0), steps=5)
    assert not bad.ok and "step 1" in bad.line() and "against the peer" in bad.line()


def test_bench_says_in_words_why_a_peer_did_not_run():
    from optgen.bench.impls import unavailable_reason
    from optgen.bench.runner import format_table
    why = unavailable_reason("optax-jit", {"name": "/x/mine.py:mine", "dtype": "float32"})
    assert "no counterpart of '/x/mine.py:mine'" in why or "not installed" in why
    row = {"time_s": 1e-3, "gbps": 1.0, "best_s": 1e-3, "faults_per_step": 0}
    res = {"results": [{"name": "mine", "model": None, "size": 10, "tensors": 1, "dtype": "float32",
                        "traffic": {"bytes_per_element": 12, "passes": [{}]}, "rounds": 1,
                        "impls": {"optgen": row}, "not_run": {"optax-jit": why}}]}
    text = format_table(res)
    assert "nan" not in text
    assert f"optax-jit          not run: {why}" in text and "x stream: not measured" in text


def test_bench_startup_takes_a_spec_file(user_dir):
    from optgen.bench.startup import measure_startup
    res = measure_startup(str(user_dir / "plain_gd.py"), rounds=1)
    assert res["name"] == "plain_gd" and res["fresh"]["total_s"] > 0 and res["cached"]["total_s"] > 0


def test_python_dash_m_optgen_is_the_optgen_command(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "optgen", "list"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0 and "adam " in run.stdout, run.stderr
    run = subprocess.run([sys.executable, "-m", "optgen", "show", "nosuch"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=300)
    assert run.returncode == 2 and "unknown optimizer 'nosuch'" in run.stderr
