"""scikit-learn estimators trained by mnistmlp's engine: :class:`MLPClassifier` and
:class:`MLPRegressor`, with the names, defaults and behaviour of scikit-learn's estimators of
those names wherever they mean the same thing.

::

    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from mnistmlp.sklearn import MLPClassifier

    search = GridSearchCV(make_pipeline(StandardScaler(), MLPClassifier(max_iter=20)),
                          {"mlpclassifier__alpha": [1e-4, 1e-2]}, n_jobs=2)
    search.fit(X, y)

Needs scikit-learn 1.6 or later: ``pip install "mnistmlp[sklearn]"``. Each estimator trains an
:class:`mnistmlp.MLP`, its ``model_`` (save it, or pickle the estimator, which pickles it as its
model file's bytes). How scikit-learn's settings map onto it:

- ``hidden_layer_sizes``; ``activation`` ``"relu"``, ``"tanh"``, ``"logistic"`` (mnistmlp's
  ``"sigmoid"``), ``"identity"`` (``"linear"``), and mnistmlp's ``"leaky_relu"`` and ``"elu"``.
  Weights start Glorot-uniform (scikit-learn's bound, ``sqrt(6 / (fan_in + fan_out))``, also
  for ``"logistic"``, where scikit-learn narrows it to ``sqrt(2 / ...)``), biases at zero
  (scikit-learn draws them from the same range).
- The input and output sizes come from the data. The classifier has one softmax output per
  class, trained on cross-entropy, two for two classes (scikit-learn has one logistic unit
  then: the same model, parametrised differently; ``predict_proba`` has two columns in both);
  labels may be any values (``classes_``). Multilabel and multi-output classification are not
  supported (ValueError). The regressor has linear outputs, one per target column.
- ``solver="adam"`` (``beta_1``, ``beta_2``, ``epsilon``: scikit-learn's update, which is
  TensorFlow's) or ``"sgd"`` (``momentum``, ``nesterovs_momentum``; ``learning_rate``
  ``"constant"``, ``"invscaling"``: ``learning_rate_init / (t + 1) ** power_t`` from the epoch
  after ``t`` samples, or ``"adaptive"``: divided by 5 when the stopping rule below is met,
  until it falls below 1e-6). With a rate that changes, momentum keeps TensorFlow's form
  (its velocity is scaled by the current rate, scikit-learn's by the rates of the updates it
  remembers). ``"lbfgs"`` raises NotImplementedError.
- ``alpha``: scikit-learn adds ``alpha / 2 * sum(W**2) / batch_rows`` to each batch's loss (no
  biases), so the model's ``weight_decay`` is ``alpha / batch_size``; only an epoch's last,
  smaller batch differs (its decay stays ``alpha / batch_size``, scikit-learn's grows to
  ``alpha / its rows``). ``batch_size="auto"`` is ``min(200, n_samples)``.
- Regression: scikit-learn's gradient is that of half the squared error summed over the K
  outputs, averaged over the rows; the engine's ``mean_square`` averages over the outputs too
  and is not halved, so its gradient is ``2 / K`` times scikit-learn's. The weight decay is
  scaled by ``2 / K`` too, SGD's learning rate by ``K / 2`` and Adam's epsilon by ``2 / K``:
  every update equals scikit-learn's. ``loss_curve_`` is half the engine's loss: half the mean
  squared error plus the L2 penalty, scikit-learn's figure (with K > 1 outputs scikit-learn's
  penalty term is K times this one).
- Stopping, as scikit-learn's: after each epoch, the training loss (the mean of the batches'
  losses, weighted by their rows, penalty included: ``loss_curve_``), or with
  ``early_stopping`` the score (accuracy, R²) on ``validation_fraction`` of the rows
  (stratified for the classifier; ``validation_scores_``), counts as no improvement when it
  is not better than the best by ``tol``; after more than ``n_iter_no_change`` such epochs in
  a row training stops. ``early_stopping`` ends with the model as it was after its best epoch
  (weights, optimizer state and counters), ``max_iter`` epochs at most (ConvergenceWarning
  if reached).
- ``warm_start=True`` and ``partial_fit`` (one epoch, no early stopping) continue the
  network as it stands, its optimizer state included (scikit-learn's ``fit`` with warm start
  starts its optimizer anew; its ``partial_fit`` carries it on, as here). Settings that shape
  the network (``hidden_layer_sizes``, ``activation``, ``solver``, ``dtype``) cannot change
  then; the others can.
- ``random_state``: an integer is the model's seed (initial weights, shuffling), None or a
  ``RandomState`` draws one; it also splits off the validation rows.
- ``verbose`` prints scikit-learn's lines (``Iteration 3, loss = 0.12345678``).
- mnistmlp's own: ``threads`` (as :class:`~mnistmlp.MLP` takes it; results do not depend on
  it), ``device`` (``"cpu"``, ``"cuda"`` or ``"cuda:N"``), ``dtype`` (``"float32"`` or
  ``"float64"``; None, the default, follows ``X`` as scikit-learn does: float32 stays float32,
  anything else becomes float64).
- Not supported: sparse ``X`` (TypeError: densify it with ``X.toarray()``), ``sample_weight``,
  ``solver="lbfgs"`` and its ``max_fun``, the regressor's ``loss="poisson"`` (it has no
  ``loss`` parameter: its loss is the squared error). NaN and Inf in ``X`` are refused by the
  engine as it reads them (ValueError).

Learned state, as scikit-learn names it: ``classes_``, ``n_features_in_``,
``feature_names_in_`` (from a DataFrame), ``coefs_`` and ``intercepts_`` (copies of the
weights), ``loss_``, ``loss_curve_``, ``best_loss_``, ``validation_scores_``,
``best_validation_score_``, ``n_iter_`` (epochs of the last call), ``t_`` (samples trained on),
``n_layers_``, ``n_outputs_``, ``out_activation_``, and ``model_``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from typing import Any, ClassVar, Dict, List, Optional, Tuple

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # absent, or older than 1.6 (validate_data, __sklearn_tags__)
    raise ImportError(
        f"mnistmlp.sklearn needs scikit-learn 1.6 or later ({exc}): pip install \"mnistmlp[sklearn]\""
    ) from exc

from ._spec import (ACTIVATIONS, DEVICE, DTYPES, NON_NEGATIVE, SGD, Adam, AnyOf, Boolean, Exactly, Interval, OneOf,
                    Optimizer, OrNone)
from ._validation import stacklevel_outside_package
from .callbacks import Callback
from .model import MLP, engine_optimizer

__all__ = ["MLPClassifier", "MLPRegressor"]

#: Activations by the names the estimators take: scikit-learn's and mnistmlp's.
_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", **{name: name for name in ACTIVATIONS}}
_SOLVERS = ("sgd", "adam")
# scikit-learn's "auto" batch: min(_AUTO_BATCH, n_samples).
_AUTO_BATCH = 200
# "adaptive" stops, rather than dividing the rate by 5 again, once it is this small.
_SMALLEST_ADAPTIVE_RATE = 1e-6
_LAYER = Interval(1, integer=True)

#: The rule of each setting checked as given (the others are checked where they are used).
_RULES = {
    "activation": OneOf(tuple(_ACTIVATIONS)),
    "solver": OneOf(_SOLVERS),
    "alpha": NON_NEGATIVE,
    "batch_size": AnyOf(Exactly("auto"), _LAYER),
    "learning_rate": OneOf(("constant", "invscaling", "adaptive")),
    "learning_rate_init": SGD.constraints["learning_rate"],
    "power_t": NON_NEGATIVE,
    "max_iter": _LAYER,
    "shuffle": Boolean(),
    "tol": NON_NEGATIVE,
    "verbose": AnyOf(Boolean(), Interval(0, integer=True)),
    "warm_start": Boolean(),
    "momentum": SGD.constraints["momentum"],
    "nesterovs_momentum": Boolean(),
    "early_stopping": Boolean(),
    "validation_fraction": Interval(0, 1, closed="neither"),
    "beta_1": Adam.constraints["beta1"],
    "beta_2": Adam.constraints["beta2"],
    "epsilon": Adam.constraints["epsilon"],
    "n_iter_no_change": AnyOf(_LAYER, Exactly(math.inf)),
    "threads": OrNone(Interval(0, integer=True)),
    "device": DEVICE,
}


class _Network(MLP):
    """The estimators' model: an MLP over any features (no warning about values beyond the
    pixels' [0, 1])."""

    _inputs_are_pixels = False

    def _reconfigure(self, spec, device: str) -> None:
        """This model with settings ``spec`` (the same shapes and optimizer state) on
        ``device``, its weights, optimizer state and counters carried over exactly."""
        snapshot = self._snapshot()
        self._build(spec, self._requested_threads, device)
        self._restore(snapshot)


class _MLPEstimator(BaseEstimator):
    """What the classifier and the regressor share (see the module's docstring)."""

    #: The network's output layer and loss.
    _output_activation: ClassVar[str]
    _loss: ClassVar[str]
    #: loss_curve_'s figure per unit of the engine's loss.
    _reported_loss: ClassVar[float]

    # Learned state that fit sets.
    model_: _Network
    loss_curve_: List[float]
    best_loss_: Optional[float]
    validation_scores_: Optional[List[float]]
    best_validation_score_: Optional[float]

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, threads=None, device="cpu", dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.threads = threads
        self.device = device
        self.dtype = dtype

    # -- learned state ------------------------------------------------------------------

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    @property
    def coefs_(self) -> List[np.ndarray]:
        """Each layer's weights, (inputs, outputs): copies."""
        return [W for W, _ in self.model_.get_weights()]

    @property
    def intercepts_(self) -> List[np.ndarray]:
        """Each layer's biases: copies."""
        return [b for _, b in self.model_.get_weights()]

    @property
    def n_layers_(self) -> int:
        """Layers, the input's included (scikit-learn's count)."""
        return self.model_.n_layers + 1

    @property
    def n_outputs_(self) -> int:
        return self.model_.layer_sizes[-1]

    @property
    def out_activation_(self) -> str:
        """The output activation, by scikit-learn's name."""
        check_is_fitted(self)
        names = {engine: name for name, engine in reversed(_ACTIVATIONS.items())}  # scikit-learn's names win
        return names.get(self._output_activation, self._output_activation)

    # -- training -----------------------------------------------------------------------

    def fit(self, X, y):
        """Train on ``X`` (n_samples, n_features) and ``y`` for at most ``max_iter`` epochs
        (from scratch, or on from the last fit with ``warm_start``). Returns self."""
        return self._fit(X, y, incremental=False)

    def _settings(self) -> Dict[str, Any]:
        """The parameters, each checked against its rule (errors name it)."""
        if self.solver == "lbfgs":
            raise NotImplementedError("solver='lbfgs' is not supported: mnistmlp's engine trains by mini-batches; "
                                      "use solver='adam' or 'sgd'")
        # NumPy scalars become Python numbers, which model files (JSON) take.
        settings = {name: _python(rule.check(name, getattr(self, name))) for name, rule in _RULES.items()}
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if isinstance(sizes, (list, tuple, np.ndarray)) else [sizes]
        settings["hidden_layer_sizes"] = [_python(_LAYER.check(f"hidden_layer_sizes[{i}]", size))
                                          for i, size in enumerate(sizes)]
        try:
            dtype = None if self.dtype is None else np.dtype(self.dtype).name
        except TypeError:
            dtype = self.dtype
        settings["dtype"] = OrNone(OneOf(DTYPES)).check("dtype", dtype)
        return settings

    def _fit(self, X, y, incremental: bool, classes=None):
        settings = self._settings()
        first = not hasattr(self, "model_") or not (settings["warm_start"] or incremental)
        if first:
            dtype = settings["dtype"] or (np.float64, np.float32)
        else:
            dtype = self.model_.dtype
        X, y = validate_data(self, X, y, reset=first, dtype=dtype, order="C", multi_output=True,
                             y_numeric=not is_classifier(self), ensure_all_finite=False)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        y, n_outputs = self._targets(y, first, incremental, classes)
        if settings["early_stopping"] and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        rng = check_random_state(self.random_state)
        validation = None
        if settings["early_stopping"]:
            X, X_val, y, y_val = train_test_split(X, y, random_state=rng, test_size=settings["validation_fraction"],
                                                  stratify=y if is_classifier(self) else None)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                                 "your dataset.")
            validation = (X_val, y_val)
        batch_size = self._batch_size(settings["batch_size"], X.shape[0])
        network = self._network(settings, first, incremental, X, n_outputs, batch_size, rng)
        if first:
            self.t_ = 0
            self.loss_curve_ = []
            self._no_improvement_count = 0
        if first or (validation is None) != (self.validation_scores_ is None):  # what the stopping rule watches
            self.best_loss_ = None if validation else math.inf
            self.validation_scores_ = [] if validation else None
            self.best_validation_score_ = -math.inf if validation else None
        self.n_iter_ = 0
        epochs = _Epochs(self, settings, X.shape[0], batch_size, validation, incremental,
                         self._rate_scale(settings, n_outputs))
        try:
            network.fit(X, y, epochs=1 if incremental else settings["max_iter"], batch_size=batch_size,
                        shuffle=settings["shuffle"], verbose=0, callbacks=[epochs])
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=stacklevel_outside_package())
        if epochs.best is not None:
            network._restore(epochs.best)
        self.model_ = network
        return self

    @staticmethod
    def _batch_size(batch_size, n_samples: int) -> int:
        if batch_size == "auto":
            return min(_AUTO_BATCH, n_samples)
        if batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                          stacklevel=stacklevel_outside_package())
        return min(batch_size, n_samples)

    def _network(self, settings: Dict[str, Any], first: bool, incremental: bool, X: np.ndarray, n_outputs: int,
                 batch_size: int, rng: np.random.RandomState) -> _Network:
        """The network to train on ``X`` (checked): new, or the fitted one with the current
        settings."""
        optimizer = self._optimizer(settings, n_outputs)
        weight_decay = self._gradient_scale(n_outputs) * settings["alpha"] / batch_size
        activation = _ACTIVATIONS[settings["activation"]]
        hidden = settings["hidden_layer_sizes"]
        if first:
            random_state = self.random_state
            seed = (int(random_state) if isinstance(random_state, numbers.Integral)
                    else int(rng.randint(np.iinfo(np.int32).max)))
            return _Network([X.shape[1], *hidden, n_outputs], activation=activation,
                            output_activation=self._output_activation, loss=self._loss, optimizer=optimizer,
                            weight_init="glorot_uniform", weight_decay=weight_decay, seed=seed,
                            threads=settings["threads"], dtype=X.dtype.name, device=settings["device"])
        network = self.model_
        if incremental:  # the schedule's rate carries on from the last call
            optimizer = dataclasses.replace(optimizer, learning_rate=network.learning_rate)
        fixed = {
            "hidden_layer_sizes": (network.layer_sizes[1:-1], hidden),
            "activation": (network.activation, [activation] * len(hidden)),
            "solver": (network.optimizer.name, optimizer.name),
            "optimizer state (SGD's momentum=0 has none)": tuple(
                engine_optimizer(o).state_slot_names for o in (network.optimizer, optimizer)),
            "dtype": (network.spec.dtype, settings["dtype"] or network.spec.dtype),
        }
        for name, (was, now) in fixed.items():
            if was != now:
                raise ValueError(f"{'partial_fit' if incremental else 'fit with warm_start=True'} trains the fitted "
                                 f"network on, whose {name} cannot change ({was} then, {now} now); fit with "
                                 "warm_start=False to start anew")
        spec = dataclasses.replace(network.spec, optimizer=optimizer,
                                   weight_decay=(weight_decay,) * network.n_layers)
        if spec != network.spec or settings["device"] != network.device:
            network._reconfigure(spec, settings["device"])
        network.threads = settings["threads"]
        return network

    def _optimizer(self, settings: Dict[str, Any], n_outputs: int) -> Optimizer:
        """The optimizer whose updates equal scikit-learn's (the engine's gradient being
        :meth:`_gradient_scale` times scikit-learn's)."""
        rate = settings["learning_rate_init"] * self._rate_scale(settings, n_outputs)
        if settings["solver"] == "adam":
            return Adam(learning_rate=rate, beta1=settings["beta_1"], beta2=settings["beta_2"],
                        epsilon=settings["epsilon"] * self._gradient_scale(n_outputs))
        momentum = settings["momentum"]
        return SGD(learning_rate=rate, momentum=momentum, nesterov=settings["nesterovs_momentum"] and momentum > 0)

    def _rate_scale(self, settings: Dict[str, Any], n_outputs: int) -> float:
        """The engine's learning rate per unit of scikit-learn's: SGD's step undoes the
        gradient's scale; Adam's does not depend on it (its epsilon is scaled instead)."""
        return 1.0 if settings["solver"] == "adam" else 1.0 / self._gradient_scale(n_outputs)

    def _gradient_scale(self, n_outputs: int) -> float:
        """The engine's gradient over scikit-learn's, for this loss and ``n_outputs``."""
        raise NotImplementedError

    def _targets(self, y, first: bool, incremental: bool, classes) -> Tuple[np.ndarray, int]:
        """``y`` as the network trains on it, and the number of outputs."""
        raise NotImplementedError

    def _validation_score(self, network: MLP, X: np.ndarray, y: np.ndarray) -> float:
        """scikit-learn's score (accuracy, R²) of ``network`` on encoded targets ``y``."""
        raise NotImplementedError

    # -- inference ----------------------------------------------------------------------

    def _outputs(self, X) -> np.ndarray:
        """The network's outputs for ``X``, checked as scikit-learn checks it."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype, order="C", ensure_all_finite=False)
        return self.model_.predict_proba(X)


def _python(value: Any) -> Any:
    """``value``, a NumPy scalar made a Python number."""
    return value.item() if isinstance(value, np.generic) else value


class _Epochs(Callback):
    """scikit-learn's bookkeeping at the end of each epoch: the loss curve, the validation
    score and best epoch, the learning-rate schedule and the stopping rule."""

    def __init__(self, estimator: _MLPEstimator, settings: Dict[str, Any], n_samples: int, batch_size: int,
                 validation: Optional[Tuple[np.ndarray, np.ndarray]], incremental: bool, rate_scale: float) -> None:
        self.estimator, self.settings, self.validation, self.incremental = estimator, settings, validation, incremental
        self.n_samples, self.batch_size, self.rate_scale = n_samples, batch_size, rate_scale
        self.batches = -(-n_samples // batch_size)
        #: The model as it was after its best epoch by validation score (early stopping).
        self.best: Optional[Any] = None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[str, float]] = None) -> None:
        estimator, settings, model = self.estimator, self.settings, self.model
        # scikit-learn weighs each batch's loss by its rows: the full batches' sum, in double
        # precision from the epoch's mean, less what the last batch lacks (the per-batch
        # figures are float32).
        assert logs is not None
        full = self.batch_size * logs["loss"] * self.batches
        lacking = (self.batch_size * self.batches - self.n_samples) * float(model.history_.batch_loss[-1][-1])
        loss = (full - lacking) / self.n_samples * estimator._reported_loss
        estimator.n_iter_ += 1
        estimator.t_ += self.n_samples
        estimator.loss_ = loss
        estimator.loss_curve_.append(loss)
        verbose = settings["verbose"]
        if verbose:
            print(f"Iteration {estimator.n_iter_}, loss = {loss:.8f}")
        tol = settings["tol"]
        if self.validation is not None:
            score = estimator._validation_score(model, *self.validation)
            assert estimator.validation_scores_ is not None and estimator.best_validation_score_ is not None
            estimator.validation_scores_.append(score)
            if verbose:
                print(f"Validation score: {score:f}")
            improved = score >= estimator.best_validation_score_ + tol
            if score > estimator.best_validation_score_:
                estimator.best_validation_score_ = score
                self.best = model._snapshot()
            what = "Validation score"
        else:
            assert estimator.best_loss_ is not None  # set with validation_scores_ None
            improved = loss <= estimator.best_loss_ - tol
            estimator.best_loss_ = min(estimator.best_loss_, loss)
            what = "Training loss"
        estimator._no_improvement_count = 0 if improved else estimator._no_improvement_count + 1
        schedule = settings["learning_rate"] if settings["solver"] == "sgd" else "constant"
        if schedule == "invscaling":
            self._set_rate(settings["learning_rate_init"] / (estimator.t_ + 1) ** settings["power_t"])
        if estimator._no_improvement_count > settings["n_iter_no_change"]:
            message = (f"{what} did not improve more than tol={tol:f} for {settings['n_iter_no_change']} "
                       "consecutive epochs.")
            rate = model.learning_rate / self.rate_scale
            if schedule == "adaptive" and rate > _SMALLEST_ADAPTIVE_RATE:
                self._set_rate(rate / 5.0)
                estimator._no_improvement_count = 0
                if verbose:
                    print(f"{message} Setting learning rate to {rate / 5.0:f}")
            else:
                model.stop_training = True
                if verbose:
                    print(f"{message} Stopping." if schedule != "adaptive" else
                          f"{message} Learning rate too small. Stopping.")
                return
        if not self.incremental and estimator.n_iter_ == settings["max_iter"]:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({settings['max_iter']}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=stacklevel_outside_package())

    def _set_rate(self, rate: float) -> None:
        """Set scikit-learn's learning rate ``rate``."""
        self.model.learning_rate = rate * self.rate_scale


class MLPClassifier(ClassifierMixin, _MLPEstimator):
    """A multilayer perceptron classifier with scikit-learn's interface (see
    :mod:`mnistmlp.sklearn` for its parameters and how they map onto mnistmlp's model)."""

    _output_activation = "softmax"
    _loss = "categorical_crossentropy"
    _reported_loss = 1.0

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X`` and ``y``; ``classes`` (every label there will be) is needed
        on the first call. Returns self."""
        return self._fit(X, y, incremental=True, classes=classes)

    def predict_proba(self, X) -> np.ndarray:
        """Each class's probability, in the order of ``classes_``, shape (n_samples, n_classes)."""
        return self._outputs(X)

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each row."""
        most_probable = self.predict_proba(X).argmax(axis=1)
        return self.classes_[most_probable]

    def _gradient_scale(self, n_outputs: int) -> float:
        return 1.0

    def _targets(self, y, first: bool, incremental: bool, classes) -> Tuple[np.ndarray, int]:
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"y is {kind}: mnistmlp's MLPClassifier supports one label per row (binary or "
                             "multiclass), not multilabel or multi-output targets")
        if incremental and first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = np.unique(classes)
        elif first:
            self.classes_ = np.unique(y)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={classes!r}` is not the same as on last call to partial_fit, was: "
                             f"{self.classes_!r}")
        elif not incremental and not np.array_equal(np.unique(y), self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as in the previous call to "
                             f"fit. Previously got {self.classes_}, `y` has {np.unique(y)}")
        unknown = np.setdiff1d(y, self.classes_)
        if len(unknown):
            raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                             f"'y' has {np.unique(y)}.")
        return np.searchsorted(self.classes_, y).astype(np.int32), len(self.classes_)

    def _validation_score(self, network: MLP, X: np.ndarray, y: np.ndarray) -> float:
        return network.evaluate(X, y)["accuracy"]


class MLPRegressor(RegressorMixin, _MLPEstimator):
    """A multilayer perceptron regressor with scikit-learn's interface (see
    :mod:`mnistmlp.sklearn` for its parameters and how they map onto mnistmlp's model)."""

    _output_activation = "linear"
    _loss = "mean_square"
    _reported_loss = 0.5

    def partial_fit(self, X, y):
        """One epoch over ``X`` and ``y``. Returns self."""
        return self._fit(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The predicted targets: (n_samples,) for one target, (n_samples, n_targets) for several."""
        outputs = self._outputs(X)
        return outputs.ravel() if outputs.shape[1] == 1 else outputs

    def _gradient_scale(self, n_outputs: int) -> float:
        return 2.0 / n_outputs

    def _targets(self, y, first: bool, incremental: bool, classes) -> Tuple[np.ndarray, int]:
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if not first and n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} targets per row but the fitted network has {self.n_outputs_} outputs")
        return y, n_outputs

    def _validation_score(self, network: MLP, X: np.ndarray, y: np.ndarray) -> float:
        return float(r2_score(y, network.predict_proba(X).reshape(y.shape)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
