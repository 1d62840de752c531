"""The CPU kernels' instruction-set levels: chosen at run time, switchable, and each one
correct (close to the others, identical for any thread count, sparse path = dense path)."""

import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import mnistmlp
from _synthetic import mnist_like
from mnistmlp._config import SIMD_LEVELS

SUPPORTED = mnistmlp.get_config()["simd_supported"]
RUNNABLE = SIMD_LEVELS[: SIMD_LEVELS.index(SUPPORTED) + 1]


@pytest.fixture
def level():
    """Restores the level in use after a test that changes it."""
    before = mnistmlp.get_simd()
    yield
    mnistmlp.set_simd(before)


def train_and_predict(optimizer, threads, X, y, sizes=(784, 100, 10)):
    model = mnistmlp.MLP(list(sizes), optimizer=optimizer, seed=3, threads=threads)
    model.fit(X, y, epochs=1, batch_size=50, verbose=0)
    return model.predict_proba(X)


def test_the_best_supported_level_is_in_use_and_shown(capsys):
    assert mnistmlp.get_simd() in SIMD_LEVELS and SUPPORTED in SIMD_LEVELS
    if not os.environ.get("MNISTMLP_SIMD"):
        assert mnistmlp.get_simd() == SUPPORTED
    mnistmlp.show_config()
    assert f"SIMD kernels           : {mnistmlp.get_simd()}" in capsys.readouterr().out


def test_the_generic_level_fuses_its_sums_where_the_hardware_does(capsys):
    """Every AArch64 CPU, and x86-64 built for FMA (-march=native here), fuse multiply-adds in
    hardware: the generic level's sums do too, as the AVX kernels'. The portable x86-64 build
    targets SSE2, where they cannot."""
    config = mnistmlp.get_config()
    fused_hardware = platform.machine().lower() in ("aarch64", "arm64") or config["simd"] in ("AVX2+FMA", "AVX-512")
    assert config["generic_fused"] is fused_hardware
    mnistmlp.show_config()
    expected = "fused multiply-adds" if fused_hardware else "products and sums rounded apart"
    assert f"generic level's sums   : {expected}" in capsys.readouterr().out


def test_bad_and_unsupported_levels(level):
    with pytest.raises(ValueError, match="unknown SIMD level 'sse9'"):
        mnistmlp.set_simd("sse9")
    for name in SIMD_LEVELS[len(RUNNABLE):]:  # above this CPU: refused, nothing changes
        before = mnistmlp.get_simd()
        with pytest.raises(ValueError, match=f"this CPU cannot run the {name} kernels; it runs {', '.join(RUNNABLE)}$"):
            mnistmlp.set_simd(name)
        assert mnistmlp.get_simd() == before


@pytest.mark.parametrize("name", RUNNABLE)
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_every_level_trains_alike_and_thread_independently(level, name, optimizer):
    X, y = mnist_like(1200)
    mnistmlp.set_simd("generic")
    expected = train_and_predict(optimizer, 1, X, y)
    mnistmlp.set_simd(name)
    assert mnistmlp.get_simd() == name
    one, two = (train_and_predict(optimizer, threads, X, y) for threads in (1, 2))
    assert one.tobytes() == two.tobytes()
    np.testing.assert_allclose(one, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", RUNNABLE)
@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 7, 8, 13])
@pytest.mark.parametrize("sizes", [(784, 10, 10), (784, 100, 10), (784, 128, 10), (784, 300, 10),
                                   (784, 1024, 64, 10)])
def test_every_level_gives_the_sparse_path_the_dense_paths_bits(level, name, rows, sizes):
    """Mostly-zero inputs take the sparse first layer (several rows interleaved), mostly-nonzero
    ones the dense product; at each level both sum each row in the same order, with the same
    kind of multiply-add, so the outputs are equal."""
    mnistmlp.set_simd(name)
    X, _ = mnist_like(rows, seed=rows)
    model = mnistmlp.MLP(list(sizes), seed=1, threads=1)
    alone = model.predict_proba(X)  # sparse first layer
    dense_company = np.full((600 - rows, 784), 200, dtype=np.uint8)
    together = model.predict_proba(np.concatenate([X, dense_company]))[:rows]  # dense
    assert alone.tobytes() == together.tobytes()


@pytest.mark.parametrize("asked,expected", [("generic", "generic"), ("sse9", SUPPORTED), ("", SUPPORTED)])
def test_the_environment_can_ask_for_a_lower_level(asked, expected):
    env = dict(os.environ, MNISTMLP_SIMD=asked)
    out = subprocess.run([sys.executable, "-c", "import mnistmlp; print(mnistmlp.get_simd())"],
                         env=env, capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == expected
