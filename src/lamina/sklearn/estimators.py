"""``LaminaClassifier`` and ``LaminaRegressor``: scikit-learn estimators that train a lamina model with
``lamina.fit``.

They follow scikit-learn's contract (``check_estimator`` passes whole for both): parameters are stored as given
and checked at ``fit``; fitted attributes end in ``_`` (``module_``, ``optimizer_``, ``history_``, ``classes_``,
``n_features_in_``); ``fit`` with an integer ``random_state`` repeats bit for bit and leaves lamina's global
random stream as it found it. Arguments of the module builder and of the optimizer are routed by prefix:
``module__hidden=(64, 32)``, ``optimizer__betas=(0.9, 0.99)``; ``GridSearchCV`` can search them like any other
parameter. A fitted estimator pickles its weights (and the optimizer's state) as NumPy arrays and rebuilds the
module when unpickled.
"""

from __future__ import annotations

import contextlib
import inspect
import numbers

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lamina import nn
from lamina import random as lamina_random
from lamina.sklearn.mlp import mlp
from lamina.sklearn.parts import TASKS, make_loss, make_optimizer, outputs, predicted_classes
from lamina.training import History, fit
from lamina.training.callbacks import Callback, EarlyStopping

__all__ = ["LaminaClassifier", "LaminaRegressor"]

PREFIXES = ("module__", "optimizer__")


@contextlib.contextmanager
def _seeded(random_state):
    """Seed lamina's global stream from ``random_state`` for the block, then put the stream back as it was.
    Yields the seed (with ``None``: one drawn from the global stream, which is then left as it is)."""
    if random_state is None:
        yield int(lamina_random.rng().integers(2**31 - 1))
        return
    if isinstance(random_state, numbers.Integral):
        seed = int(random_state)
    else:  # a numpy RandomState, as scikit-learn allows: draw the seed from it
        seed = int(check_random_state(random_state).randint(2**31 - 1))
    saved, saved_seed = lamina_random.get_rng_state(), lamina_random.initial_seed()
    lamina_random.manual_seed(seed)
    try:
        yield seed
    finally:
        lamina_random.set_rng_state(saved)
        lamina_random._state["seed"] = saved_seed


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _arrays(obj):
    """A copy of a (nested) state dict with every Tensor or array as a NumPy array."""
    if isinstance(obj, dict):
        return {k: _arrays(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_arrays(v) for v in obj)
    if hasattr(obj, "array"):
        return np.array(obj.array, copy=True)
    if isinstance(obj, np.ndarray):
        return obj.copy()
    return obj


class _LaminaEstimator(BaseEstimator):
    """What the classifier and the regressor share: parameters, the module and optimizer they build, training,
    the forward pass for prediction and pickling."""

    _task = ""  # 'classification' or 'regression': the default loss and the metric history_ records (parts.TASKS)

    def __init__(self, module=None, *, hidden_layer_sizes=(100,), activation="relu", dropout=0.0, batchnorm=False,
                 epochs=100, batch_size=32, optimizer="adam", lr=1e-3, weight_decay=0.0, loss=None,
                 validation_fraction=None, early_stopping=False, patience=10, callbacks=None, random_state=None,
                 verbose=0, **kwargs):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batchnorm = batchnorm
        self.epochs = epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.weight_decay = weight_decay
        self.loss = loss
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.patience = patience
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        for key, value in kwargs.items():  # checked by fit, as scikit-learn checks parameters
            setattr(self, key, value)

    # -- parameters: the signature's, plus module__* and optimizer__* ------------------------------------------
    def _extra_params(self) -> dict:
        """The keyword arguments beyond the signature (public, not fitted: their names end in no ``_``)."""
        own = self._get_param_names()
        return {k: v for k, v in vars(self).items() if k not in own and not k.startswith("_") and not k.endswith("_")}

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(self._extra_params())
        return params

    def set_params(self, **params):
        for key in [k for k in params if k.startswith(PREFIXES)]:
            setattr(self, key, params.pop(key))
        return super().set_params(**params) if params else self

    def _routed(self, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in vars(self).items() if k.startswith(prefix)}

    def __sklearn_is_fitted__(self):
        return hasattr(self, "module_")

    # -- what fit builds ------------------------------------------------------------------------------------------
    def _build_module(self, n_features: int, n_outputs: int) -> nn.Module:
        """The default MLP, or the user's ``module`` (a Module class or a callable) called with the module__
        arguments and, where it takes them, ``n_features`` and ``n_outputs``."""
        kwargs = self._routed("module__")
        if self.module is None:
            spec = {"hidden": self.hidden_layer_sizes, "activation": self.activation, "dropout": self.dropout,
                    "batchnorm": self.batchnorm, **kwargs}
            try:
                return mlp(n_features, n_outputs, **spec)
            except TypeError as err:
                raise TypeError(f"{type(self).__name__}: the default MLP takes module__hidden, module__activation, "
                                f"module__dropout and module__batchnorm ({err})") from None
        builder = self.module
        if isinstance(builder, nn.Module) or not callable(builder):
            raise TypeError(f"{type(self).__name__}: module must be a lamina Module class or a callable that "
                            f"returns a Module, got {type(builder).__name__} (pass the class, not an instance)")
        name = getattr(builder, "__name__", type(builder).__name__)
        try:
            params = inspect.signature(builder).parameters
            open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
        except (TypeError, ValueError):
            params, open_ended = {}, False
        sizes = {k: v for k, v in (("n_features", n_features), ("n_outputs", n_outputs))
                 if (open_ended or k in params) and k not in kwargs}
        try:
            model = builder(**sizes, **kwargs)
        except TypeError as err:
            given = ", ".join(f"module__{k}" for k in kwargs) or "no module__ arguments"
            raise TypeError(f"{type(self).__name__}: module={name} could not be built from {given}: {err}") from None
        if not isinstance(model, nn.Module):
            raise TypeError(f"{type(self).__name__}: module={name} returned {type(model).__name__}, not a lamina "
                            "Module")
        return model

    def _build_optimizer(self, params):
        try:
            return make_optimizer(self.optimizer, params, self.lr, self.weight_decay, **self._routed("optimizer__"))
        except TypeError as err:  # a class that is no optimizer, or arguments it does not take
            raise TypeError(f"{type(self).__name__}: {err}") from None

    def _build_loss(self):
        return make_loss(TASKS[self._task]["loss"] if self.loss is None else self.loss)

    # -- data ---------------------------------------------------------------------------------------------------
    def _refuse_sparse(self, X):
        if scipy.sparse.issparse(X):
            raise TypeError(f"{type(self).__name__} takes dense input only, got a sparse {type(X).__name__}: "
                            "convert it with X.toarray()")

    def _check_settings(self):
        unknown = [k for k in self._extra_params() if not k.startswith(PREFIXES)]
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter {unknown[0]!r} (arguments of the module builder "
                             "start with module__, those of the optimizer with optimizer__)")
        epochs = self.epochs
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        batch_size = _positive_int(self.batch_size, "batch_size")
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = 0.1
        if fraction is not None and not (isinstance(fraction, numbers.Real) and 0 <= fraction < 1):
            raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}")
        if self.callbacks is not None and not all(isinstance(c, Callback) for c in self.callbacks):
            raise TypeError("callbacks must be a list of lamina.callbacks.Callback instances")
        return int(epochs), batch_size, fraction or 0.0

    def _split(self, X, y, labels, fraction: float, seed: int):
        """(train, validation or None): a seeded split, stratified by class when every class can give a sample."""
        n_val = int(np.floor(fraction * len(X)))
        if n_val < 1 or n_val >= len(X):
            return (X, y), None
        from sklearn.model_selection import train_test_split

        stratify = None
        if labels is not None:
            counts = np.bincount(labels)
            if counts[counts > 0].min() >= 2 and n_val >= np.count_nonzero(counts):
                stratify = labels
        idx_train, idx_val = train_test_split(np.arange(len(X)), test_size=n_val, random_state=seed,
                                              stratify=stratify)
        return (X[idx_train], y[idx_train]), (X[idx_val], y[idx_val])

    # -- training -----------------------------------------------------------------------------------------------
    def _train(self, X, y, labels, first: bool, epochs: int | None = None):
        """Build (on the first call) and train the module: ``fit`` starts afresh, ``partial_fit`` continues."""
        n_epochs, batch_size, fraction = self._check_settings()
        if epochs is not None:
            n_epochs = epochs
        with _seeded(self.random_state) as seed:
            if first:
                self.loss_ = self._build_loss()
                self.module_ = self._build_module(X.shape[1], self._n_outputs(y))
                self._module_shape = (X.shape[1], self._n_outputs(y))
                self.optimizer_ = self._build_optimizer(self.module_.parameters())
                self.history_ = History()
            train, val = self._split(X, y, labels, fraction, seed)
            callbacks = list(self.callbacks or [])
            if self.early_stopping:
                callbacks.append(EarlyStopping("val_loss" if val is not None else "loss",
                                               patience=_positive_int(self.patience, "patience"),
                                               restore_best_weights=True))
            history = fit(self.module_, train, val=val, loss=self.loss_, optimizer=self.optimizer_, epochs=n_epochs,
                          metrics=[TASKS[self._task]["metric"]], callbacks=callbacks,
                          batch_size=min(batch_size, len(train[0])), progress=bool(self.verbose), health=False)
        offset = len(self.history_)
        for epoch, logs in zip(history.epoch, zip(*history.history.values())):
            self.history_.record(offset + epoch, dict(zip(history.history, logs)))
        return self

    def _outputs(self, X) -> np.ndarray:
        """The module's outputs for X, in eval mode, as float64 (``parts.outputs``: a row's prediction does not
        depend on the other rows it came with)."""
        check_is_fitted(self)
        self._refuse_sparse(X)
        return outputs(self.module_, validate_data(self, X, reset=False, dtype=np.float32))

    # -- pickling: weights as arrays ----------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())
        module = state.pop("module_", None)
        if module is not None:
            state["_weights"] = {k: np.array(v.array, copy=True) for k, v in module.state_dict().items()}
            state["_optimizer_state"] = _arrays(state.pop("optimizer_").state_dict())
            state["_training"] = bool(module.training)
            state.pop("loss_", None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        weights = state.pop("_weights", None)
        optimizer_state = state.pop("_optimizer_state", None)
        training = state.pop("_training", False)
        super().__setstate__(state)
        if weights is not None:
            self.module_ = self._build_module(*self._module_shape)
            self.module_.load_state_dict(weights)
            self.module_.train(training)
            self.optimizer_ = self._build_optimizer(self.module_.parameters())
            self.optimizer_.load_state_dict(optimizer_state)
            self.loss_ = self._build_loss()


class LaminaClassifier(ClassifierMixin, _LaminaEstimator):
    """A lamina network as a scikit-learn classifier (softmax outputs, cross-entropy).

    ``module``: None for an MLP (``hidden_layer_sizes``, ``activation``, ``dropout``, ``batchnorm``), or a
    lamina Module class, or a callable returning a Module, called with the ``module__*`` arguments and, if it
    takes them, ``n_features`` and ``n_outputs`` (the number of classes). ``optimizer``: a name (adam, sgd,
    momentum, adamw, rmsprop, ...) or a ``lamina.optim`` class, built with ``lr``, ``weight_decay`` and the
    ``optimizer__*`` arguments. ``validation_fraction``: held out (stratified, seeded) to record ``val_loss`` and
    ``val_accuracy`` in ``history_``; with ``early_stopping`` (0.1 if not given) training stops after
    ``patience`` epochs without a lower validation loss and keeps the best weights. ``callbacks``: lamina
    callbacks passed to ``fit``. ``random_state``: an int makes ``fit`` repeat bit for bit.
    """

    _task = "classification"

    def _n_outputs(self, y) -> int:
        return len(self.classes_)

    def _labels(self, X, y, reset: bool, classes=None):
        self._refuse_sparse(X)
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32)
        check_classification_targets(y)
        if reset:
            self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes in y, got only one class: "
                                 f"{self.classes_[0]!r}")
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(f"y holds the label {y[unknown][0]!r}, which is not one of the classes "
                             f"{list(self.classes_)}")
        return X, index.astype(np.int64)

    def fit(self, X, y):
        """Train a fresh module for ``epochs`` epochs on X (n_samples, n_features) and labels y."""
        X, labels = self._labels(X, y, reset=True)
        return self._train(X, labels, labels, first=True)

    def partial_fit(self, X, y, classes=None):
        """One epoch on (X, y), continuing the current module and optimizer (``classes`` on the first call)."""
        first = not hasattr(self, "module_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit (all the labels y can hold)")
        X, labels = self._labels(X, y, reset=first, classes=classes)
        return self._train(X, labels, labels, first=first, epochs=1)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (softmax of the outputs), float64, columns in the order of ``classes_``."""
        z = self._outputs(X)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict_log_proba(self, X) -> np.ndarray:
        z = self._outputs(X)
        z -= z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        return predicted_classes(self._outputs(X), self.classes_)


class LaminaRegressor(RegressorMixin, _LaminaEstimator):
    """A lamina network as a scikit-learn regressor (linear outputs, mean squared error), one or several
    targets. The parameters are ``LaminaClassifier``'s; ``history_`` records ``r2`` (and ``val_r2``)."""

    _task = "regression"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _n_outputs(self, y) -> int:
        return y.shape[1]

    def _targets(self, X, y, reset: bool):
        self._refuse_sparse(X)
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float32, multi_output=True, y_numeric=True)
        if reset:
            self._y_ndim = y.ndim
        y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        if not reset and y.shape[1] != self._module_shape[1]:
            raise ValueError(f"y has {y.shape[1]} targets, but {type(self).__name__} was fitted with "
                             f"{self._module_shape[1]}")
        return X, y

    def fit(self, X, y):
        """Train a fresh module for ``epochs`` epochs on X (n_samples, n_features) and y (n_samples[, n_targets])."""
        X, y = self._targets(X, y, reset=True)
        return self._train(X, y, None, first=True)

    def partial_fit(self, X, y):
        """One epoch on (X, y), continuing the current module and optimizer."""
        first = not hasattr(self, "module_")
        X, y = self._targets(X, y, reset=first)
        return self._train(X, y, None, first=first, epochs=1)

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X)
        return out.reshape(-1) if self._y_ndim == 1 else out
