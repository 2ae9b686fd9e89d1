"""Deprecated (until 0.3): η's pre-training module is
:class:`~kpbottleneck.regressor_pretraining.RegressorPretraining`; this name is kept for one release so that
code, configs (``class_path: kpbottleneck.KeypointRegressor``) and checkpoints written before still work."""

from __future__ import annotations

import warnings
from typing import Any

from kpbottleneck.regressor_pretraining import RegressorPretraining


class KeypointRegressor(RegressorPretraining):
    """Deprecated alias of :class:`~kpbottleneck.regressor_pretraining.RegressorPretraining` (same
    arguments, same checkpoints); it warns when built."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            "KeypointRegressor is deprecated (until 0.3): use kpbottleneck.RegressorPretraining, and the "
            "experiments/*_pretrain.yaml configs",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(*args, **kwargs)
