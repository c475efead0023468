from typing import Any, Optional, Sequence, Union

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ._native import Sequential

class _MLP(BaseEstimator):
    model_: Sequential
    history_: dict[str, list[float]]
    n_iter_: int
    loss_: float
    n_features_in_: int
    feature_names_in_: np.ndarray
    def __init__(
        self,
        hidden_layer_sizes: Union[int, Sequence[int]] = (100,),
        activation: str = "relu",
        *,
        arch: Optional[str] = None,
        optimizer: str = "adam",
        lr: float = 0.001,
        epochs: int = 200,
        batch_size: Union[int, str] = 200,
        weight_decay: float = 0.0,
        shuffle: bool = True,
        init: str = "torch",
        seed: int = 1,
        random_state: Union[int, np.random.RandomState, None] = None,
        dtype: str = "float32",
        normalize: bool = False,
        verbose: int = 0,
    ) -> None: ...

class MLPClassifier(ClassifierMixin, _MLP):
    classes_: np.ndarray
    def fit(self, X: Any, y: Any) -> "MLPClassifier": ...
    def partial_fit(self, X: Any, y: Any, classes: Optional[Any] = None) -> "MLPClassifier": ...
    def predict(self, X: Any) -> np.ndarray: ...
    def predict_proba(self, X: Any) -> np.ndarray: ...
    def predict_log_proba(self, X: Any) -> np.ndarray: ...

class MLPRegressor(RegressorMixin, _MLP):
    def fit(self, X: Any, y: Any) -> "MLPRegressor": ...
    def partial_fit(self, X: Any, y: Any) -> "MLPRegressor": ...
    def predict(self, X: Any) -> np.ndarray: ...
