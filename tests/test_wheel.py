"""An installed optgen works without the checkout: the wheel ships the specs, claims, templates and kernels.

The wheel is built from this checkout (``pip wheel``, no build isolation, so no
network), installed (not editable) into a fresh virtual environment outside the
checkout, and run from a temporary directory. The new environment borrows this
one's third-party packages through a path entry, never optgen itself (the
editable install's finder is not loaded there: a plain path entry processes no
``.pth`` files).
"""
import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from optgen.registry import ROOT

USER_SPEC = '''
"""Signed descent with a decaying step (a user's spec, outside any package)."""
from optgen.dsl import Spec, hyper, w, g, t, sign

lr = hyper("lr", 0.5, domain="positive", doc="first step size")
spec = Spec("halving_sign", [(w, w - lr / t * sign(g))], doc="w <- w - lr/t sign(g)")
'''

PROGRAM = textwrap.dedent('''
    import json, sys
    import numpy as np
    import optgen
    w = [np.zeros(3, np.float32)]
    opt = optgen.create("adam", w, lr=0.1)
    opt.step([np.array([1.0, -2.0, 0.5], np.float32)])
    user = [np.zeros(2)]
    mine = optgen.create(sys.argv[1], user)
    for _ in range(2):
        mine.step([np.array([3.0, -1.0])])
    print(json.dumps({"file": optgen.__file__, "names": optgen.names(), "adam": w[0].tolist(),
                      "user": user[0].tolist()}))
''')


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv with the wheel installed, a working directory outside the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools writes build/ and *.egg-info into the source tree, and two
    # pytest-xdist workers building from the checkout at once corrupt each other's build.
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "optgen", source / "optgen", ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    dist = tmp / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(source)], check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("optgen-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, text=True)
    work = tmp / "elsewhere"
    work.mkdir()
    (work / "halving_sign.py").write_text(USER_SPEC)
    (work / "program.py").write_text(PROGRAM)
    return python, work, wheel


def _run(python, work, *args):
    env = {"PATH": "/usr/bin:/bin", "OPTGEN_CACHE_DIR": str(work / "cache"), "HOME": str(work)}
    return subprocess.run([str(python), *args], cwd=work, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_holds_what_optgen_reads_at_run_time(installed):
    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("optgen/specs/adam.py", "optgen/specs/derivations/adam.py", "optgen/templates/cpu_module.py.j2",
                 "optgen/templates/cuda_module.py.j2", "optgen/generated/cpu/adam.py",
                 "optgen/generated/cuda/lamb.py"):
        assert path in names, path


def test_installed_optgen_lists_creates_and_runs_a_user_spec_outside_the_checkout(installed):
    python, work, _ = installed
    out = _run(python, work, "program.py", str(work / "halving_sign.py"))
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).resolve().is_relative_to(python.parent.parent.resolve())  # the venv's own copy
    assert {"adam", "lamb", "sgd"} <= set(got["names"])
    # Adam's first step moves every element by lr against the gradient's sign (bias-corrected m/sqrt(v) = sign(g))
    assert got["adam"] == pytest.approx([-0.1, 0.1, -0.1], rel=1e-6)
    # hand derivation: w = -(0.5/1 + 0.5/2) sign(g) after two steps
    assert got["user"] == pytest.approx([-0.75, 0.75])


def test_installed_optgen_command_line(installed):
    python, work, _ = installed
    out = _run(python, work, "-m", "optgen.cli", "list")
    assert out.returncode == 0, out.stderr
    assert "adam" in out.stdout and "lamb" in out.stdout
