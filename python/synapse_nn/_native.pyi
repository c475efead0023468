"""Type stubs of the extension module (crates/synapse-py)."""

import os
from typing import Any, Literal, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, "os.PathLike[str]"]
_Array = npt.ArrayLike
_DType = Union[Literal["float32", "float64", "f32", "f64"], type, np.dtype]

class Sequential:
    """A stack of layers from a spec string, and what its model file keeps."""

    def __init__(
        self,
        spec: str,
        *,
        init: str = "torch",
        seed: int = 1,
        dtype: Optional[_DType] = None,
        device: Literal["cpu", "cuda"] = "cpu",
        allow_large: bool = False,
    ) -> None: ...
    @property
    def spec(self) -> str: ...
    @property
    def dtype(self) -> Literal["float32", "float64"]: ...
    @property
    def loss(self) -> Optional[str]: ...
    @property
    def labels(self) -> Optional[list[str]]: ...
    @property
    def normalize(self) -> Optional[dict[str, list[float]]]: ...
    def fit(
        self,
        x: Union[_Array, _Path, None] = None,
        y: Optional[_Array] = None,
        *,
        loss: Optional[Literal["sse", "mse", "bce", "bce-logits", "cross-entropy"]] = None,
        target: Union[str, Sequence[str], None] = None,
        text: Optional[_Path] = None,
        context: Optional[int] = None,
        stride: Optional[int] = None,
        tokenizer: Optional[_Path] = None,
        optimizer: Literal["sgd", "adam", "adamw"] = "sgd",
        lr: Optional[float] = None,
        momentum: Optional[float] = None,
        nesterov: bool = False,
        weight_decay: Optional[float] = None,
        beta1: Optional[float] = None,
        beta2: Optional[float] = None,
        eps: Optional[float] = None,
        epochs: int = 10,
        batch_size: Union[int, Literal["full"]] = 32,
        shuffle: bool = True,
        seed: Optional[int] = None,
        normalize: bool = False,
        validation_data: Union[Tuple[_Array, _Array], _Path, None] = None,
        val_split: Optional[float] = None,
        early_stop: Optional[int] = None,
        checkpoint: Optional[_Path] = None,
        resume: Optional[_Path] = None,
        lr_schedule: str = "constant",
        clip_grad_norm: Optional[float] = None,
        class_weights: Union[Literal["auto"], Sequence[float], None] = None,
        save_best: bool = False,
        allow_large: bool = False,
        verbose: Union[int, bool] = 0,
        warm_start: bool = False,
    ) -> dict[str, list[float]]: ...
    def predict(self, x: Union[_Array, _Path], *, proba: bool = False, label: bool = False) -> np.ndarray: ...
    def generate(
        self,
        prompt: str = "",
        *,
        length: int = 200,
        temperature: float = 1.0,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        seed: int = 1,
    ) -> str: ...
    def evaluate(
        self,
        x: Union[_Array, _Path],
        y: Optional[_Array] = None,
        *,
        loss: Optional[str] = None,
        target: Optional[Sequence[str]] = None,
    ) -> dict[str, float]: ...
    def save(self, path: _Path) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes, *, arch: Optional[str] = None) -> "Sequential": ...
    @staticmethod
    def load(path: _Path, *, arch: Optional[str] = None, device: Literal["cpu", "cuda"] = "cpu") -> "Sequential": ...
    def state_dict(self) -> dict[str, np.ndarray]: ...
    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None: ...
    def summary(self) -> str: ...

def _read_address(x: Any, dtype: str = "float32") -> Tuple[int, bool]: ...

def _fit_keywords() -> list[str]:
    """Every keyword `Sequential.fit` takes (the training job's options and `verbose`, `warm_start`)."""
    ...
