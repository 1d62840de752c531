"""The width / depth / optimizer study, on a small slice of MNIST so the suite stays fast."""

import json
import re

import numpy as np
import pytest

from mnistmlp import experiments

FIELDS = {"hidden", "activation", "optimizer", "learning_rate", "batch_size", "epochs", "seed",
          "train_accuracy_displayed", "train_accuracy", "validation_accuracy", "test_accuracy", "test_loss",
          "seconds", "samples_per_second", "device", "curve", "predicted_class_histogram", "train_limit", "key",
          "data_sha256"}


@pytest.fixture(scope="module")
def small_data(mnist_dir):
    from mnistmlp.datasets import mnist

    return mnist.read_data_sets(mnist_dir)


def test_tutorial_preset_on_a_slice(small_data, tmp_path):
    study = experiments.run_preset("tutorial", seeds=2, out_dir=tmp_path, plot=True, data=small_data,
                                   train_limit=3000, progress=False)
    assert len(study.records) == 8
    names = [r["name"] for r in study.records]
    assert names == ["1×100 relu SGD"] * 2 + ["1×10 relu SGD"] * 2 + ["2×100 relu SGD"] * 2 + ["2×100 relu Adam"] * 2
    for record in study.records:
        assert FIELDS <= set(record)
        assert record["batch_size"] == 10 and record["epochs"] == 1 and record["learning_rate"] == 0.001
        assert record["weight_init"] == "truncated_normal" and record["clip_norm"] == 5.0
        assert 0 <= record["train_accuracy_displayed"] <= 1 and 0 <= record["test_accuracy"] <= 1
        assert record["curve"]["samples"] == [1000, 2000, 3000]
        assert sum(record["predicted_class_histogram"]) == 10000
    assert [r["seed"] for r in study.records[:2]] == [0, 1]
    assert study.records[0]["hidden"] == [100] and study.records[4]["hidden"] == [100, 100]
    # Adam trains the deep network even on a slice; plain SGD at lr 0.001 does not.
    assert study.records[6]["test_accuracy"] > study.records[4]["test_accuracy"] + 0.3

    written = {p.name for p in study.files}
    assert written == {"results.jsonl", "results.md", "learning_curves.png"}
    assert sorted(experiments.load_records(tmp_path), key=lambda r: (r["name"], r["seed"])) == \
        sorted(study.records, key=lambda r: (r["name"], r["seed"]))
    assert json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])["train_limit"] == 3000
    table = (tmp_path / "results.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| 1×100 relu SGD |"))
    test_accuracies = [100 * r["test_accuracy"] for r in study.records[:2]]
    assert f"{np.mean(test_accuracies):.1f}% ± {np.std(test_accuracies, ddof=1):.1f}" in row
    assert "moving average of about the last ten batch" in table
    # Runs on 3,000 images are not set beside the notebook's and TFLearn's full-data figures.
    assert "trained on the first 3,000 training images only" in table and "TFLearn 0.5.0" not in table
    assert "| network | displayed training accuracy | training-set accuracy | test accuracy | s/run |" in table
    assert "Width adds capacity" in table and "predicted-class histogram" in table and "Adam rescues it" in table
    assert (tmp_path / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_grid_and_heatmap(small_data, tmp_path):
    records = experiments.run_grid(widths=[8, 16], depths=[1, 2], optimizers=["sgd", "adam"],
                                   learning_rates={"sgd": [0.1], "adam": [0.001]}, batch_size=32, epochs=1,
                                   seeds=[0], data=small_data, train_limit=1000, progress=False)
    assert len(records) == 8
    assert {(tuple(r["hidden"]), r["optimizer"]) for r in records} == {
        ((w,) * d, o) for w in (8, 16) for d in (1, 2) for o in ("sgd", "adam")}
    table = experiments.grid_table(records)
    assert "| width \\ depth | 1 | 2 |" in table and "SGD, learning rate 0.1" in table
    png = experiments.plot_heatmaps(records, tmp_path / "heatmap.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_plots_are_skipped_with_a_message_without_matplotlib(small_data, tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "_pyplot", lambda: None)
    study = experiments.run_preset("tutorial", seeds=1, out_dir=tmp_path, plot=True, data=small_data,
                                   train_limit=200, progress=False)
    assert "matplotlib is not installed" in study.plot_message
    assert {p.name for p in study.files} == {"results.jsonl", "results.md"}


def test_curve_windows_weight_partial_batches():
    curve = experiments._curve(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 1.0, 0.0, 1.0]), batch_size=4, n=6,
                               every=6)
    # Two epochs of 6 samples: batches of 4 and 2.
    assert curve == {"samples": [6, 12], "loss": [pytest.approx(4 / 3), pytest.approx(10 / 3)],
                     "accuracy": [pytest.approx(1 / 3), pytest.approx(1 / 3)]}


def test_bad_study_arguments():
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        experiments.run_preset("huge")
    with pytest.raises(ValueError, match="seeds must be a positive integer"):
        experiments.run_preset("tutorial", seeds=0)
    with pytest.raises(ValueError, match="at least one configuration"):
        experiments.run_configs([], [0])
    with pytest.raises(ValueError, match=re.escape("device must be 'cpu', 'cuda' or 'cuda:N' (N: a GPU's index), got \"gpu\"")):
        experiments.run_preset("tutorial", device="gpu")


def _record(hidden, optimizer="sgd", learning_rate=0.001, test_accuracy=0.1, histogram=(0, 10000) + (0,) * 8):
    return {"name": f"{len(hidden)}×{hidden[0]} relu {optimizer.upper()}", "hidden": list(hidden),
            "optimizer": optimizer, "learning_rate": learning_rate, "test_accuracy": test_accuracy,
            "batch_size": 32, "epochs": 3, "predicted_class_histogram": list(histogram)}


def test_the_conclusion_on_depth_says_what_the_runs_did():
    every = experiments._tutorial_conclusions({"2×100 relu SGD": [_record([100, 100])] * 3})[0]
    assert ("every run puts all the test images in a single class (over 3 runs, 100% of the predictions are '1'; "
            "the predicted-class histogram summed over 3 runs is [0, 30000, 0,") in every
    mixed = [_record([100, 100]), _record([100, 100], histogram=(1000, 9000) + (0,) * 8)]
    assert "each run puts at least 90% of the test images in a single class" in \
        experiments._tutorial_conclusions({"2×100 relu SGD": mixed})[0]


def test_runs_that_did_not_train_are_listed_in_the_tables_order():
    records = [_record([w] * d) for w in (1000, 300, 10) for d in (2, 1)]
    table = experiments.grid_table(records)
    assert table.splitlines()[-1] == (
        "Runs that did not train (test accuracy below 20%): 1×10 relu SGD at lr 0.001, 1×300 relu SGD at lr 0.001, "
        "1×1000 relu SGD at lr 0.001, 2×10 relu SGD at lr 0.001, 2×300 relu SGD at lr 0.001, "
        "2×1000 relu SGD at lr 0.001.")


def test_the_grid_runs_every_optimizer_by_name(small_data):
    records = experiments.run_grid(widths=[8], depths=[1], optimizers=["momentum", "rmsprop", "adagrad"],
                                   learning_rates=0.01, batch_size=32, epochs=1, seeds=[0], data=small_data,
                                   train_limit=500, progress=False)
    assert [r["name"] for r in records] == ["1×8 relu Momentum", "1×8 relu RMSProp", "1×8 relu AdaGrad"]
    assert "### RMSProp, learning rate 0.01" in experiments.grid_table(records)


def test_tables_compare_with_tflearn_only_on_the_whole_training_set():
    whole = [{**_record([100]), "name": "1×100 relu SGD", "train_accuracy_displayed": 0.7, "train_accuracy": 0.7,
              "seconds": 0.3, "batch_size": 10, "epochs": 1}]
    assert "| 1×100 relu SGD | 70.0% | 69.5% | 69.3% | 70.0% | 10.0% | 71.1% | 0.30 |" in experiments.tutorial_table(whole)
    sliced = [{**whole[0], "train_limit": 5000}]
    table = experiments.tutorial_table(sliced)
    assert "| 1×100 relu SGD | 70.0% | 70.0% | 10.0% | 0.30 |" in table and "69.5%" not in table
    assert "clip 5.0, trained on the first 5,000 training images only)" in table
    grid = experiments.grid_table([{**_record([10]), "train_limit": 5000}])
    assert "### SGD, learning rate 0.001 (batch 32, 3 epochs, trained on the first 5,000 training images only)" in grid
