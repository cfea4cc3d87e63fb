"""The kernel cache is keyed on content, never on mtimes.

cp -p, rsync -t, tar and file systems with a coarse clock keep a file's mtime
across an edit. The spec file cache used to be keyed on the mtime while the
generated module's header hash was taken from the contents, so such an edit wrote
the old equations under the new hash, and only deleting the cache repaired it.
The numbers checked are hand values of one SGD step, w - lr * g.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import optgen
from optgen.compiler import driver

SPEC = "from optgen.dsl import Spec, hyper, w, g\nlr = hyper('lr', {lr})\nspec = Spec('keep', [(w, w - lr * g)])\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def one_step(path) -> float:
    w = np.array([1.0])
    optgen.create(str(path), [w]).step([np.array([1.0])])
    return float(w[0])


def rewrite_keeping_stat(path, text) -> None:
    """New contents, same size and same mtime (what cp -p or rsync -t leave behind)."""
    before = os.stat(path)
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = os.stat(path)
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


def test_an_edit_that_keeps_the_mtime_is_seen(tmp_path, cache, one_thread):
    path = tmp_path / "keep.py"
    path.write_text(SPEC.format(lr="0.5"))
    assert one_step(path) == 0.5                       # 1 - 0.5 * 1
    rewrite_keeping_stat(path, SPEC.format(lr="0.2"))
    assert optgen.load_spec(str(path)).hypers == {"lr": 0.2}
    assert one_step(path) == 0.8                       # 1 - 0.2 * 1
    module_file = driver.load_module(str(path)).__file__
    assert "HYPERS = {'lr': 0.2}" in open(module_file, encoding="utf-8").read()


def test_a_module_with_another_header_is_rebuilt(tmp_path, cache, one_thread):
    path = tmp_path / "keep.py"
    path.write_text(SPEC.format(lr="0.5"))
    module_file = driver.load_module(str(path)).__file__
    text = open(module_file, encoding="utf-8").read()
    first, rest = text.split("\n", 1)
    foreign = first.replace("(sha256 ", "(sha256 0") + "\n" + rest.replace("0.5", "0.7")
    with open(module_file, "w") as f:  # a module of another spec text, left at this path
        f.write(foreign)
    assert one_step(path) == 0.5
    assert open(module_file, encoding="utf-8").read() == text


def test_a_current_module_is_not_rewritten(tmp_path, cache, one_thread):
    path = tmp_path / "keep.py"
    path.write_text(SPEC.format(lr="0.5"))
    module_file = driver.load_module(str(path)).__file__
    before = os.stat(module_file).st_mtime_ns
    driver._modules.clear()  # as a new process would
    driver.load_module(str(path))
    assert os.stat(module_file).st_mtime_ns == before


@pytest.mark.parametrize("name,options", [("adam", {"amsgrad": True}), ("ranger", {}), ("sgd", {})])
@pytest.mark.parametrize("target", ["cpu", "cuda"])
def test_the_expected_header_is_what_is_generated(name, options, target):
    spec = optgen.load_spec(name)
    options = {**spec.options, **options}
    code = driver.compile_spec(spec, options, target).code
    assert code.startswith(driver.header_prefix(spec, options))


def test_a_spec_derived_in_memory_gets_its_own_module(cache, one_thread):
    """``spec.with_equations(...)`` of a repository spec used to reuse (or overwrite)
    generated/cpu/sgd.py: its header carried the file's hash, not the equations'."""
    from optgen.spec import g, w
    sgd = optgen.load_spec("sgd")
    lr = next(h for h in sgd.hyper_symbols if h.name == "lr")
    committed = (driver.GENERATED_DIR / "cpu" / "sgd.py").read_bytes()
    for k, expected in [(2, 0.8), (3, 0.7), (2, 0.8)]:  # 1 - k * 0.1 * 1, alternating
        params = [np.ones(2)]
        opt = optgen.create(sgd.with_equations([(w, w - k * lr * g)]), params, lr=0.1)
        opt.step([np.ones(2)])
        assert np.all(params[0] == expected)
        assert str(cache) in opt.module.__file__
    params = [np.ones(2)]
    optgen.create("sgd", params, lr=0.1).step([np.ones(2)])
    assert np.all(params[0] == 0.9)
    assert (driver.GENERATED_DIR / "cpu" / "sgd.py").read_bytes() == committed
