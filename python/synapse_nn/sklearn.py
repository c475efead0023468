"""scikit-learn estimators over `synapse_nn.Sequential`: `MLPClassifier`
(cross-entropy) and `MLPRegressor` (mse), with scikit-learn's conventions
(`get_params`/`set_params`, `classes_`, `n_features_in_`,
`feature_names_in_`, `predict_proba`, `score`, `partial_fit`, pickling).

The network is `arch` when given (any spec), else `hidden_layer_sizes`
with `activation` between the layers: `linear(D,h1), relu, ...,
linear(hk,K)`. `random_state` is an alias of `seed` (it wins when given).
Inputs are validated by scikit-learn (`validate_data`); the network, the
training and every training rule are synapse's.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._native import Sequential

# scikit-learn's names for the activations, and synapse's own.
_ACTIVATIONS = {
    "relu": "relu",
    "tanh": "tanh",
    "logistic": "sigmoid",
    "sigmoid": "sigmoid",
    "identity": "identity",
    "gelu": "gelu",
    "leaky_relu": "leaky_relu",
}


class _MLP(BaseEstimator):
    """What both estimators share: parameters, the network, training."""

    _loss = None

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        arch=None,
        optimizer="adam",
        lr=0.001,
        epochs=200,
        batch_size=200,
        weight_decay=0.0,
        shuffle=True,
        init="torch",
        seed=1,
        random_state=None,
        dtype="float32",
        normalize=False,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.arch = arch
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.shuffle = shuffle
        self.init = init
        self.seed = seed
        self.random_state = random_state
        self.dtype = dtype
        self.normalize = normalize
        self.verbose = verbose

    # --- the network ------------------------------------------------------

    def _seed(self):
        """`random_state` (an int, or a RandomState to draw one from), else `seed`."""
        rs = self.random_state
        if rs is None:
            return int(self.seed)
        if isinstance(rs, numbers.Integral):
            return int(rs)
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(np.iinfo(np.int32).max))
        raise ValueError(f"random_state {rs!r}: expected None, an int or a numpy RandomState")

    def _spec(self, n_in, n_out):
        if self.arch is not None:
            return self.arch
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        sizes = [int(h) for h in sizes]
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"activation {self.activation!r}: expected one of {', '.join(sorted(_ACTIVATIONS))}"
            )
        act = _ACTIVATIONS[self.activation]
        widths = [n_in, *sizes, n_out]
        parts = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            if i > 0:
                parts.append(act)
            parts.append(f"linear({a},{b})")
        return ", ".join(parts)

    def _float_types(self):
        return [np.float32, np.float64]

    def _train(self, X, y, epochs, first, partial=False):
        """Builds the network on the first call, then trains it for `epochs`;
        `partial`: one call of several, each continuing the optimizer."""
        if first:
            self.model_ = Sequential(
                self._spec(X.shape[1], self._outputs(y)),
                init=self.init,
                seed=self._seed(),
                dtype=self.dtype,
            )
        history = self.model_.fit(
            X,
            y,
            loss=self._loss,
            optimizer=self.optimizer,
            lr=self.lr,
            weight_decay=self.weight_decay,
            epochs=epochs,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=self._seed(),
            normalize=self.normalize if first else False,
            verbose=self.verbose,
            # partial_fit continues the optimizer (Adam's moments and step count).
            warm_start=partial,
        )
        if first:
            self.history_ = {k: list(v) for k, v in history.items()}
            self.n_iter_ = len(history["loss"])
        else:
            for k, v in history.items():
                self.history_.setdefault(k, []).extend(v)
            self.n_iter_ += len(history["loss"])
        self.loss_ = self.history_["loss"][-1]
        return self

    def _outputs(self, y):
        raise NotImplementedError

    def _forward(self, X, **kwargs):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=self._float_types())
        return self.model_.predict(X, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class MLPClassifier(ClassifierMixin, _MLP):
    """A classifier trained with cross-entropy: one output per class.

    `classes_` holds the labels as given (any type numpy can sort: ints,
    strings...); `predict` returns them, `predict_proba` the softmax of
    the outputs in the order of `classes_`.
    """

    _loss = "cross-entropy"

    def _outputs(self, y):
        return len(self.classes_)

    def _targets(self, X, y, reset, classes=None):
        X, y = validate_data(self, X, y, reset=reset, dtype=self._float_types())
        check_classification_targets(y)
        if reset:
            self.classes_ = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                    f"but the data contains only one class: {self.classes_[0]!r}"
                )
        index = np.searchsorted(self.classes_, y)
        unknown = (index >= len(self.classes_)) | (self.classes_[np.minimum(index, len(self.classes_) - 1)] != y)
        if np.any(unknown):
            bad = y[np.argmax(unknown)]
            raise ValueError(f"y: {bad!r} is not one of the classes {list(self.classes_)}")
        return X, index.astype(np.int64)

    def fit(self, X, y):
        """Trains a new network for `epochs` on `X`, `y`."""
        X, target = self._targets(X, y, reset=True)
        return self._train(X, target, self.epochs, first=True)

    def partial_fit(self, X, y, classes=None):
        """One epoch on `X`, `y`; the first call builds the network and
        needs `classes` (every label that will ever be seen)."""
        first = not hasattr(self, "model_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        X, target = self._targets(X, y, reset=first, classes=classes)
        return self._train(X, target, 1, first=first, partial=True)

    def predict(self, X):
        """The most likely class of each row, as a label of `classes_`."""
        out = self._forward(X)
        return self.classes_[np.argmax(out, axis=1)]

    def predict_proba(self, X):
        """Class probabilities, columns in the order of `classes_`."""
        return self._forward(X, proba=True).astype(np.float64, copy=False)

    def predict_log_proba(self, X):
        return np.log(self.predict_proba(X))


class MLPRegressor(RegressorMixin, _MLP):
    """A regressor trained with mse: one output per target column."""

    _loss = "mse"

    def _outputs(self, y):
        return y.shape[1]

    def _targets(self, X, y, reset):
        X, y = validate_data(
            self, X, y, reset=reset, dtype=self._float_types(), y_numeric=True, multi_output=True
        )
        if reset:
            self._y_1d = y.ndim == 1
        y = y.reshape(len(y), -1) if y.ndim == 1 else y
        return X, y

    def fit(self, X, y):
        """Trains a new network for `epochs` on `X`, `y`."""
        X, y = self._targets(X, y, reset=True)
        return self._train(X, y, self.epochs, first=True)

    def partial_fit(self, X, y):
        """One epoch on `X`, `y`; the first call builds the network."""
        first = not hasattr(self, "model_")
        X, y = self._targets(X, y, reset=first)
        return self._train(X, y, 1, first=first, partial=True)

    def predict(self, X):
        """The outputs, `[n]` for a single target given as `[n]`, else `[n, k]`."""
        out = self._forward(X).astype(np.float64, copy=False)
        return out.ravel() if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
