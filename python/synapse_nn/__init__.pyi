import os
from typing import Optional, Union

from ._native import Sequential as Sequential, _fit_keywords as _fit_keywords
from .sklearn import MLPClassifier as MLPClassifier, MLPRegressor as MLPRegressor

def load(path: Union[str, "os.PathLike[str]"], *, arch: Optional[str] = None, device: str = "cpu") -> Sequential: ...
