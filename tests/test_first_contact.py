"""What a new user meets first: slips that get an explanation instead of a puzzle, and
settings that are questionable get a word instead of silence."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import mnistmlp


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=dict(os.environ, **env), capture_output=True,
                          text=True, timeout=120)


def test_sizes_given_one_by_one_say_to_pass_a_list():
    with pytest.raises(TypeError, match=r"layer_sizes must be a sequence of sizes such as \[784, 100, 10\], got 784 "
                                        r"\(pass all the sizes as one list: MLP\(\[784, 100, 10\]\)\)"):
        mnistmlp.MLP(784, 100, 10)


@pytest.mark.parametrize(
    "shape,match",
    [
        ((784,), r"X has shape \(784,\): one sample without a batch axis, but the network takes \(n_samples, 784\); "
                 r"add a batch axis: X\[None\]"),
        ((28, 28), r"X has 28 features per sample but the network expects 784; if it is one image of shape \(28, 28\), "
                   r"add a batch axis: X\[None\]"),
    ],
)
def test_one_sample_without_a_batch_axis_says_how_to_add_it(shape, match):
    model = mnistmlp.MLP([784, 8, 10], seed=0)
    image = np.zeros(shape, np.float32)
    with pytest.raises(ValueError, match=match):
        model.predict(image)
    assert model.predict(image[None]).shape == (1,)


def test_float16_is_refused_like_int64_saying_how_to_convert():
    model = mnistmlp.MLP([784, 8, 10], seed=0)
    with pytest.raises(TypeError, match=r"got dtype float16 \(convert with X.astype\(np.float32\)\)"):
        model.predict(np.zeros((2, 784), np.float16))


def test_raw_pixel_values_as_floats_get_a_warning_once():
    model = mnistmlp.MLP([784, 8, 10], seed=0)
    X = np.random.default_rng(0).integers(0, 256, (50, 784)).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        for _ in range(3):  # one line of the caller's code: one warning
            model.fit(X, np.arange(50) % 10, verbose=0)
    assert [str(w.message)[:52] for w in caught] == ["X holds float values far outside [0, 1] (beyond 20);"]
    assert caught[0].filename == __file__  # it points at the user's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.predict(X / 255)  # scaled: no warning
        model.predict(X.astype(np.uint8))  # uint8 is scaled by the engine


def test_more_threads_than_cpus_get_a_warning():
    with pytest.warns(RuntimeWarning, match="threads=1000 is more than the .* CPUs this process may use"):
        mnistmlp.MLP([784, 8, 10], threads=1000)


@pytest.mark.parametrize("asked,problem", [("bogus", "is not a SIMD level"), ("avx9", "is not a SIMD level")])
def test_a_bad_simd_setting_in_the_environment_is_pointed_out(asked, problem):
    run = run_python("import mnistmlp; print(mnistmlp.get_simd())", MNISTMLP_SIMD=asked)
    assert run.returncode == 0
    assert f"RuntimeWarning: MNISTMLP_SIMD='{asked}' {problem} (generic, avx2, avx512); mnistmlp uses" in run.stderr


def test_submodules_the_readme_uses_after_a_plain_import():
    run = run_python("import mnistmlp; print(mnistmlp.experiments.run_preset.__name__, mnistmlp.tflearn.DNN.__name__)")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["run_preset", "DNN"]
    with pytest.raises(AttributeError, match="has no attribute 'nonexistent'"):
        mnistmlp.nonexistent


def test_settings_that_could_not_be_saved_are_refused_when_made(tmp_path):
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 18446744073709551615\], got 18446744073709551616"):
        mnistmlp.MLP([4, 2], seed=2**64)
    for flag in ("nesterov", "staircase"):
        with pytest.raises(TypeError, match=f"{flag} must be True or False, got 1"):
            mnistmlp.optimizers.SGD(0.1, momentum=0.9, **{flag: 1})
    optimizer = mnistmlp.optimizers.SGD(0.1, momentum=0.9, nesterov=np.bool_(True))
    assert optimizer.nesterov is True
    model = mnistmlp.MLP([4, 2], optimizer=optimizer, seed=2**64 - 1)
    model.save(tmp_path / "m.safetensors")
    assert mnistmlp.MLP.load(tmp_path / "m.safetensors").optimizer == optimizer


@pytest.mark.parametrize(
    "where,error,reason",
    [
        ("a_folder", IsADirectoryError, r"is a folder; give a file name such as .*a_folder/model.safetensors"),
        ("missing/m.safetensors", FileNotFoundError, r"the folder .*missing does not exist"),
    ],
)
def test_saving_where_no_file_can_go_names_the_users_path(tmp_path, where, error, reason):
    (tmp_path / "a_folder").mkdir()
    target = tmp_path / where
    with pytest.raises(error, match=reason) as raised:
        mnistmlp.MLP([4, 2]).save(target)
    assert raised.value.filename == str(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_folder"]


def test_loading_a_folder_says_it_is_a_folder(tmp_path):
    with pytest.raises(mnistmlp.ModelFileError, match="is a folder, not a model file"):
        mnistmlp.MLP.load(tmp_path)


def test_tflearn_checkpoints_that_cannot_be_written_fail_before_training(tmp_path, capsys):
    import mnistmlp.tflearn as tflearn

    net = tflearn.input_data(shape=[None, 784])
    net = tflearn.regression(tflearn.fully_connected(net, 10, activation="softmax"))
    model = tflearn.DNN(net, checkpoint_path=str(tmp_path / "missing" / "ckpt"))
    with pytest.raises(FileNotFoundError, match="the folder .*missing does not exist"):
        model.fit(np.zeros((20, 784), np.float32), np.eye(10)[np.arange(20) % 10], n_epoch=1)
    assert model.model.steps_ == 0 and capsys.readouterr().out == ""


def test_model_files_honour_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        mnistmlp.MLP([4, 2]).save(tmp_path / "m.safetensors")
    finally:
        os.umask(previous)
    assert (tmp_path / "m.safetensors").stat().st_mode & 0o777 == 0o640


def test_asking_for_kernels_this_cpu_cannot_run_names_those_it_can(monkeypatch):
    """The engine refuses a level above the CPU's (as on an AVX2-only machine): set_simd says
    which levels run instead of returning False."""
    from mnistmlp import _config

    monkeypatch.setattr(_config._core, "simd_supported", lambda: "avx2")
    monkeypatch.setattr(_config._core, "set_simd_level", lambda level: level != "avx512")
    with pytest.raises(ValueError, match="^this CPU cannot run the avx512 kernels; it runs generic, avx2$"):
        mnistmlp.set_simd("avx512")
