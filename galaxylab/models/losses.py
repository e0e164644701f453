"""The masked Keras loss and metric for vote fractions (NaN in ``y_true`` = unknown).

A label table may carry only some of the 37 columns: unknown targets are NaN and count for
nothing, neither in the loss nor in the streaming RMSE. Registered with Keras, so saved models
that use them load with ``safe_mode=True``.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def _masked_squared_errors(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    """Squared errors with unknown entries zeroed, and the 0/1 mask of known entries.

    NaN targets are replaced before subtracting, so the gradient stays finite.
    """
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    known = ops.logical_not(ops.isnan(y_true))
    diff = ops.where(known, y_pred - ops.where(known, y_true, 0.0), 0.0)
    return ops.square(diff), ops.cast(known, "float32")


@keras.saving.register_keras_serializable(package="galaxylab")
class MaskedMSE(keras.losses.Loss):
    """Mean squared error over the known (non-NaN) targets of the batch, pooled over columns.

    ``call`` returns per-galaxy values scaled so Keras' default "sum_over_batch_size"
    reduction yields sum of squared errors / number of known entries (0 for a batch with none);
    that keeps Keras' scaling for tf.distribute and its sample weights.
    """

    def __init__(self, name: str = "masked_mse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-galaxy squared error × batch size / known entries in the batch."""
        squared, known = _masked_squared_errors(y_true, y_pred)
        batch = ops.cast(ops.shape(squared)[0], "float32")
        return ops.sum(squared, axis=-1) * batch / ops.maximum(ops.sum(known), 1.0)


#: A ready instance: ``model.compile(loss=masked_mse)``; ``masked_mse(y_true, y_pred)`` → scalar.
masked_mse = MaskedMSE()


@keras.saving.register_keras_serializable(package="galaxylab")
class MaskedRMSE(keras.metrics.Metric):
    """Streaming RMSE over known targets: sqrt(pooled squared error / pooled known count).

    Over a whole epoch this equals :func:`kaggle_rmse` of the epoch's targets and predictions.
    """

    def __init__(self, name: str = "rmse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add the batch's squared errors and known-entry count (weighted per galaxy if given)."""
        squared, known = _masked_squared_errors(y_true, y_pred)
        sse, n = ops.sum(squared, axis=-1), ops.sum(known, axis=-1)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
            sse, n = sse * weight, n * weight
        self.total.assign_add(ops.sum(sse))
        self.count.assign_add(ops.sum(n))

    def result(self) -> Any:
        """The RMSE so far (0 before any known entry)."""
        return ops.sqrt(ops.divide_no_nan(self.total, self.count))

    def reset_state(self) -> None:
        """Start a new epoch."""
        self.total.assign(0.0)
        self.count.assign(0.0)
