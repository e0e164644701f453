"""Self-checks for notebook 03 (the decision-tree regressor: repairing a sigmoid head,
test-time augmentation over rotations only, and a loss that does not mask unknown answers).

    from galaxylab.checks import regressor as check
    check.repaired_sigmoid(repaired, rmse_repaired, predictions["sigmoid head"], y_test)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from galaxylab import metrics, tree
from galaxylab.checks import NotYet, close, passed, require

#: The largest |sum − parent| a prediction that obeys the tree may show (float32 rounding).
TREE_TOLERANCE = 1e-5


def _table(values: Any, like: np.ndarray, what: str) -> np.ndarray:
    """``values`` as a float array shaped like ``like``, or NotYet naming ``what``."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        array = np.array([])
    require(
        array.shape == like.shape,
        f"`{what}` should be one row of 37 answers per test galaxy, shaped {like.shape}, "
        f"not {array.shape}.",
    )
    return array


def _score(value: Any, expected: float, what: str, of: str) -> None:
    require(
        close(value, expected, 1e-6),
        f"`{what}` is not the RMSE of {of}: score it with metrics.kaggle_rmse against the "
        "volunteers' test fractions.",
    )


def repaired_sigmoid(
    repaired: Any, rmse_repaired: Any, sigmoid_predictions: Any, y_test: Any
) -> bool:
    """Your turn 1: the sigmoid head's predictions made to obey the tree, and their RMSE."""
    sigmoid = np.asarray(sigmoid_predictions, dtype=float)
    fixed = _table(repaired, sigmoid, "repaired")
    require(
        not np.allclose(fixed, sigmoid, atol=1e-6),
        "`repaired` is still the sigmoid head's prediction: pass it through tree.normalise.",
    )
    worst = float(np.abs(tree.sum_errors(fixed).to_numpy()).max())
    require(
        worst < TREE_TOLERANCE,
        f"`repaired` still breaks the tree (a question's sum is off by {worst:.2g}): "
        "normalise every question, in the tree's order.",
    )
    require(
        np.allclose(fixed, tree.normalise(sigmoid), atol=1e-5),
        "`repaired` obeys the tree but is not the sigmoid head's prediction renormalised: "
        "start from predictions['sigmoid head'].",
    )
    _score(rmse_repaired, metrics.kaggle_rmse(y_test, fixed), "rmse_repaired", "`repaired`")
    return passed(
        "Repaired: every prediction is now a possible crowd; compare its RMSE with the "
        "sigmoid head's before the repair."
    )


def rotations_only(four_views: Any, rmse_four: Any, views: Mapping[str, Any], y_test: Any) -> bool:
    """Your turn 2: the average of the four unmirrored rotations, and its RMSE."""
    keys = list(views)
    require(
        len(keys) == 8,
        f"`views` should hold the 8 dihedral views' predictions, it holds {len(keys)}.",
    )
    stacked = np.stack([np.asarray(views[k], dtype=float) for k in keys])
    guess = _table(four_views, stacked[0], "four_views")
    rotations = [k for k in keys if "mirror" not in k]
    mirrored = [k for k in keys if "mirror" in k]
    want = stacked[[keys.index(k) for k in rotations]].mean(axis=0)
    require(
        not np.allclose(guess, stacked.mean(axis=0), atol=1e-6) or np.allclose(guess, want),
        "`four_views` averages all 8 views: keep only the rotations without mirroring.",
    )
    require(
        not np.allclose(guess, stacked[[keys.index(k) for k in mirrored]].mean(axis=0), atol=1e-6)
        or np.allclose(guess, want),
        "`four_views` averages the mirrored views: the exercise asks for those with flip False.",
    )
    require(
        np.allclose(guess, want, atol=1e-5),
        "`four_views` is not the mean of the four rotations' predictions (0°, 90°, 180°, 270°, "
        "no mirror): average them galaxy by galaxy, answer by answer.",
    )
    _score(rmse_four, metrics.kaggle_rmse(y_test, guess), "rmse_four", "`four_views`")
    return passed("Four rotations averaged and scored: now compare with one view and with all 8.")


def _loss_values(loss: Callable[[Any, Any], Any], y_true: np.ndarray, y_pred: np.ndarray) -> Any:
    import keras

    value = loss(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    return np.asarray(keras.ops.convert_to_numpy(value), dtype=float)


def zero_filled_loss(
    loss: Callable[[Any, Any], Any], zero_filled_rmse: Any, zero_filled_pred: Any, y_test: Any
) -> bool:
    """Your turn 3: a plain MSE loss with unknown (NaN) answers counted as 0, and the RMSE of
    the model fine-tuned with it over the known columns."""
    require(callable(loss), "`zero_filled_mse` should be a function of (y_true, y_pred).")
    rng = np.random.default_rng(0)
    y_pred = rng.uniform(0.05, 0.95, size=(6, len(tree.COLUMNS))).astype("float32")
    y_true = rng.uniform(0, 1, size=y_pred.shape).astype("float32")
    y_true[:, 5:13] = np.nan  # unknown answers, as in the real sample
    try:
        values = _loss_values(loss, y_true, y_pred)
    except Exception as error:  # a student's loss may fail in any way
        raise NotYet(
            f"`zero_filled_mse` fails on a batch with NaN targets ({type(error).__name__}): "
            "use keras.ops functions on the tensors."
        ) from error
    require(
        values.size in (1, len(y_pred)),
        f"`zero_filled_mse` should return one value per galaxy or one for the batch, "
        f"not shape {values.shape}.",
    )
    require(
        bool(np.isfinite(values).all()),
        "`zero_filled_mse` gives NaN: unknown targets must be replaced by 0 before subtracting.",
    )
    filled = np.nan_to_num(y_true, nan=0.0)
    want = float(np.mean((y_pred - filled) ** 2))
    known = ~np.isnan(y_true)
    masked = float(np.mean((y_pred[known] - y_true[known]) ** 2))
    got = float(np.mean(values))
    require(
        not close(got, masked, 1e-6),
        "`zero_filled_mse` still skips the unknown answers (that is the masked loss): count "
        "them, as 0.",
    )
    require(
        close(got, want, 1e-5),
        "`zero_filled_mse` is not the mean squared error over all 37 answers with unknown "
        "targets set to 0: is it squared, and averaged over the answers?",
    )
    truth = np.asarray(y_test, dtype=float)
    prediction = _table(zero_filled_pred, truth, "zero_filled_pred")
    _score(
        zero_filled_rmse,
        metrics.kaggle_rmse(truth, prediction),
        "zero_filled_rmse",
        "`zero_filled_pred` on the real test galaxies",
    )
    return passed(
        "Your zero-filled loss is right and its model is scored on the known columns only: "
        "compare it with the masked fine-tuning."
    )
