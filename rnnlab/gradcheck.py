"""Numerical gradient check: compare loss_and_grads' gradients with central finite differences."""

from __future__ import annotations

import numpy as np

from .model import PARAM_NAMES, loss_and_grads


def gradcheck(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    h_prev: np.ndarray,
    step: float = 1e-5,
    samples_per_param: int | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Worst relative error per parameter between analytic and numerical gradients.

    Gradients are taken unclipped (the clip is not differentiable). Each checked entry is nudged
    by ±step and restored; samples_per_param limits how many entries of each array are checked
    (all of them if None). Relative error is |a - n| / max(|a| + |n|, 1e-12); values below 1e-6
    mean the gradients are right.
    """
    rng = rng or np.random.default_rng(0)
    _, grads, _ = loss_and_grads(params, inputs, targets, h_prev, clip=False)
    worst: dict[str, float] = {}
    for name in PARAM_NAMES:
        array = params[name]
        indices = list(np.ndindex(array.shape))
        if samples_per_param is not None and samples_per_param < len(indices):
            chosen = rng.choice(len(indices), size=samples_per_param, replace=False)
            indices = [indices[i] for i in chosen]
        errors = []
        for index in indices:
            original = array[index]
            array[index] = original + step
            loss_plus = loss_and_grads(params, inputs, targets, h_prev, clip=False)[0]
            array[index] = original - step
            loss_minus = loss_and_grads(params, inputs, targets, h_prev, clip=False)[0]
            array[index] = original
            numerical = (loss_plus - loss_minus) / (2 * step)
            analytic = grads[name][index]
            errors.append(abs(analytic - numerical) / max(abs(analytic) + abs(numerical), 1e-12))
        worst[name] = max(errors)
    return worst
