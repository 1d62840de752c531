"""mnistmlp.sklearn: scikit-learn's own estimator checks; the tools estimators are used with
(Pipeline, GridSearchCV, cross-validation, clone, pickle); and the mapping of scikit-learn's
settings onto the engine, held update for update against scikit-learn's MLPClassifier and
MLPRegressor."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", minversion="1.6")

from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, cross_validate, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import mnistmlp  # noqa: E402
from mnistmlp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

ANIMALS = np.array(["cat", "dog", "eel"])


def classification(n=240, seed=0):
    """Three classes, labelled by name."""
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=3, class_sep=2.0,
                               random_state=seed)
    return X, ANIMALS[y]


def regression(n=240, targets=1, seed=0):
    X, y = make_regression(n_samples=n, n_features=8, n_informative=5, n_targets=targets, noise=0.1,
                           random_state=seed)
    return X, y / y.std(axis=0)


def assert_same_weights(estimator, other):
    for name in ("coefs_", "intercepts_"):
        for mine, theirs in zip(getattr(estimator, name), getattr(other, name)):
            assert np.array_equal(mine, theirs)


@pytest.fixture(autouse=True)
def no_convergence_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


# -- scikit-learn's checks ------------------------------------------------------------------


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


# -- with scikit-learn's tools --------------------------------------------------------------


def test_pipeline_grid_search_and_cross_validation_in_two_processes():
    X, y = classification()
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), batch_size=32, max_iter=30,
                                                             random_state=0))
    grid = {"mlpclassifier__alpha": [1e-4, 1.0], "mlpclassifier__hidden_layer_sizes": [(16,), (32,)]}
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=2)
    search.fit(X, y)
    assert search.best_score_ > 0.7 and set(search.predict(X)) <= set(ANIMALS)
    assert search.best_estimator_.score(X, y) > 0.8
    assert cross_val_score(pipeline, X, y, cv=3, n_jobs=2).mean() > 0.7
    results = cross_validate(pipeline, X, y, cv=3, n_jobs=2, return_estimator=True)
    for fitted in results["estimator"]:  # fitted in workers, pickled back
        assert fitted.score(X, y) > 0.7
        assert fitted[-1].model_.layer_sizes == [8, 16, 3]


def test_clone_takes_the_settings_and_leaves_the_learned_state():
    model = MLPClassifier(hidden_layer_sizes=(5, 4), alpha=0.5, threads=1, random_state=3, max_iter=5)
    copy = clone(model.fit(*classification()))
    assert copy.get_params() == model.get_params() and not hasattr(copy, "model_")
    assert_same_weights(copy.fit(*classification()), model)  # the same seed: the same training


def test_arguments_are_stored_untouched_and_checked_when_fitting():
    model = MLPClassifier(hidden_layer_sizes=[7], beta_1=1.5, solver="lbfgs", batch_size=0)
    assert model.hidden_layer_sizes == [7] and model.beta_1 == 1.5 and model.solver == "lbfgs"
    X, y = classification(30)
    with pytest.raises(NotImplementedError, match="solver='lbfgs' is not supported.*use solver='adam' or 'sgd'"):
        model.fit(X, y)
    with pytest.raises(ValueError, match='batch_size must be "auto" or an integer >= 1, got 0'):
        model.set_params(solver="adam").fit(X, y)
    with pytest.raises(ValueError, match=r"beta_1 must be a finite number in \[0, 1\), got 1.5"):
        model.set_params(batch_size="auto").fit(X, y)
    with pytest.raises(TypeError, match="hidden_layer_sizes.0. must be an integer >= 1, got 7.5"):
        MLPRegressor(hidden_layer_sizes=(7.5,)).fit(*regression(30))


def test_what_is_not_supported_says_so():
    X, y = classification(30)
    scipy_sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="Sparse data was passed"):
        MLPClassifier().fit(scipy_sparse.csr_matrix(X), y)
    with pytest.raises(ValueError, match="y is multilabel-indicator: .* not multilabel or multi-output"):
        MLPClassifier().fit(X, np.eye(3, dtype=int)[np.arange(30) % 3] | np.eye(3, dtype=int)[np.arange(30) % 2])
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        MLPClassifier(early_stopping=True).partial_fit(X, y, classes=ANIMALS)


def test_importing_without_scikit_learn_names_the_extra():
    code = "import sys; sys.modules['sklearn'] = None; import mnistmlp.sklearn"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert 'ImportError: mnistmlp.sklearn needs scikit-learn 1.6 or later' in result.stderr
    assert 'pip install "mnistmlp[sklearn]"' in result.stderr


# -- the same updates as scikit-learn's --------------------------------------------------

def scikit_learns(mine, X, y, **settings):
    """scikit-learn's estimator of the same name as ``mine`` (fitted) with ``settings``, its
    network holding the weights ``mine`` started from, its next call starting a new optimizer."""
    theirs = getattr(neural_network, type(mine).__name__)(**settings, warm_start=True)
    theirs.fit(X, y)  # builds its network
    start = mnistmlp.MLP(mine.model_.layer_sizes, weight_init="glorot_uniform", seed=0, dtype="float64").get_weights()
    theirs.coefs_, theirs.intercepts_ = [W for W, _ in start], [b for _, b in start]
    theirs.t_, theirs.loss_curve_, theirs.best_loss_, theirs._no_improvement_count = 0, [], np.inf, 0
    del theirs._optimizer
    return theirs


def assert_close_weights(mine, theirs):
    for name in ("coefs_", "intercepts_"):
        for W, theirs_W in zip(getattr(mine, name), getattr(theirs, name)):
            np.testing.assert_allclose(W, theirs_W, rtol=1e-7, atol=1e-12)


MATCHES = [
    # (estimator, settings, targets): each update equals scikit-learn's
    (MLPClassifier, dict(solver="adam", alpha=1e-2), 1),
    (MLPClassifier, dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.05), 1),
    (MLPClassifier, dict(solver="sgd", momentum=0.0, learning_rate="invscaling", power_t=0.25,
                         learning_rate_init=0.5, activation="tanh"), 1),
    (MLPRegressor, dict(solver="adam", alpha=1e-1, activation="logistic"), 1),
    (MLPRegressor, dict(solver="adam", alpha=1e-3, learning_rate_init=0.01), 3),
    (MLPRegressor, dict(solver="sgd", momentum=0.5, nesterovs_momentum=False, alpha=1e-2, learning_rate_init=0.02), 2),
    (MLPRegressor, dict(solver="sgd", momentum=0.0, learning_rate="invscaling", learning_rate_init=0.05,
                        activation="identity"), 1),
    # No epoch improves the loss by tol: the rate falls by 5 after epochs 3, 5 and 7.
    (MLPRegressor, dict(solver="sgd", momentum=0.0, learning_rate="adaptive", learning_rate_init=0.1, tol=10.0,
                        n_iter_no_change=1, max_iter=7), 1),
]


@pytest.mark.parametrize("estimator,settings,targets", MATCHES)
def test_each_update_equals_scikit_learns(estimator, settings, targets):
    """From the same weights, on the same batches (no shuffling), scikit-learn's estimator of
    the same name reaches the same weights and loss curve, epoch after epoch, to rounding:
    alpha, the regressor's loss scale, Adam, momentum and the schedules map exactly."""
    if estimator is MLPClassifier:
        X, y = classification(120)
    else:
        X, y = regression(120, targets)
        y = y if targets > 1 else y.ravel()
    common = {**dict(hidden_layer_sizes=(6, 5), batch_size=40, shuffle=False, max_iter=3, random_state=0), **settings}
    mine = estimator(**common).fit(X, y)
    theirs = scikit_learns(mine, X, y, **common).fit(X, y)
    assert_close_weights(mine, theirs)
    if targets == 1:  # with K > 1 targets scikit-learn's loss_curve_ holds K times the L2 term (see mnistmlp.sklearn)
        np.testing.assert_allclose(mine.loss_curve_, theirs.loss_curve_, rtol=1e-9)


def test_the_rules_of_stopping_are_scikit_learns(capsys):
    X, y = classification(200)
    model = MLPClassifier(hidden_layer_sizes=(10,), tol=0.05, n_iter_no_change=2, max_iter=100, random_state=0,
                          verbose=True).fit(X, y)
    curve = model.loss_curve_
    assert model.n_iter_ == len(curve) < 100 and model.loss_ == curve[-1] and model.best_loss_ == min(curve)
    # Three epochs in a row (more than n_iter_no_change) fail to beat the best loss before them by tol.
    assert all(curve[i] > min(curve[:i]) - 0.05 for i in range(len(curve) - 3, len(curve)))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"Iteration 1, loss = {curve[0]:.8f}"
    assert out[-1] == "Training loss did not improve more than tol=0.050000 for 2 consecutive epochs. Stopping."


def test_early_stopping_ends_at_the_best_epoch_on_the_validation_rows():
    X, y = classification(300)
    model = MLPClassifier(hidden_layer_sizes=(10,), early_stopping=True, validation_fraction=0.2, n_iter_no_change=3,
                          tol=0.0, max_iter=60, random_state=7).fit(X, y)
    scores = model.validation_scores_
    assert model.best_loss_ is None and model.n_iter_ == len(scores) == len(model.loss_curve_)
    assert model.best_validation_score_ == max(scores)
    _, X_val, _, y_val = train_test_split(X, y, test_size=0.2, random_state=np.random.RandomState(7), stratify=y)
    assert model.score(X_val, y_val) == max(scores)  # the model as it was after its best epoch


# -- training on -------------------------------------------------------------------------


def test_partial_fit_and_warm_start_train_on_as_one_fit_does():
    X, y = classification()
    whole = MLPClassifier(hidden_layer_sizes=(12,), max_iter=3, random_state=0).fit(X, y)
    stepwise = MLPClassifier(hidden_layer_sizes=(12,), random_state=0)
    for call in range(3):
        stepwise.partial_fit(X, y, classes=ANIMALS if call == 0 else None)
    assert_same_weights(stepwise, whole)  # Adam's state and the shuffles carry on
    assert stepwise.loss_curve_ == whole.loss_curve_ and stepwise.t_ == whole.t_ == 3 * len(X)
    assert stepwise.n_iter_ == 1 and whole.n_iter_ == 3
    warm = MLPClassifier(hidden_layer_sizes=(12,), max_iter=2, random_state=0, warm_start=True).fit(X, y)
    assert_same_weights(warm.set_params(max_iter=1).fit(X, y), whole)
    with pytest.raises(ValueError, match=r"whose hidden_layer_sizes cannot change \(\[12\] then, \[13\] now\)"):
        warm.set_params(hidden_layer_sizes=(13,)).fit(X, y)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        stepwise.partial_fit(X, np.where(y == "cat", "cow", y))


def test_settings_that_do_not_shape_the_network_may_change_between_calls():
    """A smaller batch (alpha / 50 where it was alpha / 200), another thread count and a new
    learning rate carry the network and its optimizer's state over, as scikit-learn's does."""
    X, y = regression(250)
    y = y.ravel()
    settings = dict(hidden_layer_sizes=(12,), alpha=1.0, shuffle=False, random_state=0)
    mine = MLPRegressor(**settings).partial_fit(X[:200], y[:200])
    theirs = scikit_learns(mine, X, y, **settings).partial_fit(X[:200], y[:200])
    mine.set_params(threads=1, learning_rate_init=0.01).partial_fit(X[200:], y[200:])
    theirs.partial_fit(X[200:], y[200:])  # its optimizer keeps the rate it was made with
    assert mine.model_.weight_decay == [2 * 1.0 / 50] * 2  # 2 / K times scikit-learn's alpha / 50
    assert mine.model_.threads == 1 and mine.model_.steps_ == 2
    assert mine.model_.learning_rate == 0.001  # partial_fit carries the rate on, as scikit-learn's does
    assert_close_weights(mine, theirs)


def test_pickled_estimators_train_on_exactly_as_the_original():
    X, y = classification()
    model = MLPClassifier(hidden_layer_sizes=(12,), max_iter=4, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    assert restored.loss_curve_ == model.loss_curve_ and list(restored.classes_) == list(ANIMALS)
    for estimator in (model, restored):
        estimator.partial_fit(X, y)
    assert_same_weights(restored, model)
    assert np.array_equal(restored.predict_proba(X), model.predict_proba(X))


# -- what the estimators learn -------------------------------------------------------------


def test_labels_dtypes_and_shapes_come_from_the_data():
    X, y = classification()
    model = MLPClassifier(max_iter=30, random_state=0).fit(X.astype(np.float32), y)
    assert list(model.classes_) == list(ANIMALS) and model.n_features_in_ == 8 and model.n_outputs_ == 3
    assert model.model_.dtype == np.float32 and model.predict_proba(X).dtype == np.float32
    assert [W.shape for W in model.coefs_] == [(8, 100), (100, 3)] and model.n_layers_ == 3
    assert model.out_activation_ == "softmax" and model.score(X, y) > 0.9
    np.testing.assert_allclose(model.predict_log_proba(X[:5]), np.log(model.predict_proba(X[:5])))
    two = MLPClassifier(max_iter=30, random_state=0).fit(X, y == "cat")
    assert two.predict_proba(X).shape == (len(X), 2) and two.predict(X).dtype == bool

    X, y = regression(targets=2)
    regressor = MLPRegressor(max_iter=50, random_state=0, dtype="float32").fit(X, y)
    assert regressor.predict(X).shape == (len(X), 2) and regressor.out_activation_ == "identity"
    assert regressor.model_.dtype == np.float32 and regressor.score(X, y) > 0.9
    assert MLPRegressor(max_iter=5).fit(X, y[:, 0]).predict(X).shape == (len(X),)


def test_features_are_not_taken_for_pixels():
    """MLP warns of float inputs far beyond [0, 1] (raw pixel values); features may be anything."""
    X, y = classification(60)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        MLPClassifier(max_iter=2).fit(100 * X, y).predict(100 * X)
    with pytest.warns(RuntimeWarning, match="pixel intensities"):
        mnistmlp.MLP([8, 3]).predict_proba(100 * X)


def test_mnist_in_a_pipeline(mnist_dir):
    from mnistmlp.datasets import mnist

    data = mnist.read_data_sets(mnist_dir, download=False)
    X, y = data.train.images[:6000], data.train.labels[:6000]
    model = make_pipeline(StandardScaler(), MLPClassifier(max_iter=5, random_state=0)).fit(X, y)
    assert model.score(data.test.images, data.test.labels) > 0.9


@pytest.mark.cuda
def test_on_the_gpu_as_on_the_cpu():
    X, y = classification()
    on_cpu = MLPClassifier(max_iter=5, random_state=0, dtype="float64").fit(X, y)
    on_gpu = MLPClassifier(max_iter=5, random_state=0, dtype="float64", device="cuda").fit(X, y)
    np.testing.assert_allclose(on_gpu.predict_proba(X), on_cpu.predict_proba(X), rtol=1e-6, atol=1e-9)
    restored = pickle.loads(pickle.dumps(on_gpu))
    assert restored.model_.device == "cuda" and np.array_equal(restored.predict_proba(X), on_gpu.predict_proba(X))
