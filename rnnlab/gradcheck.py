"""Numerical gradient check: compare loss_and_grads' gradients with central finite differences."""

from __future__ import annotations

import numpy as np

from .model import loss_and_grads


def gradcheck(
    params: dict[str, np.ndarray],
    inputs: np.ndarray,
    targets: np.ndarray,
    h_prev: np.ndarray,
    step: float = 1e-5,
    samples_per_param: int | None = None,
    rng: np.random.Generator | None = None,
    masks: np.ndarray | None = None,
) -> dict[str, float]:
    """Worst relative error per parameter between analytic and numerical gradients.

    params: any network's, named as rnnlab.architecture says; inputs, targets: (T,) or (T, B)
    ids; h_prev: the carried state, (S, 1) or (S, B); masks: dropout multipliers held fixed
    (see model.loss_and_grads), or None.

    Gradients are taken unclipped (the clip is not differentiable). Each checked entry is nudged
    by ±step and restored; samples_per_param limits how many entries of each array are checked
    (all of them if None). Relative error is |a - n| / max(|a| + |n|, floor); values below 1e-6
    mean the gradients are right. The floor is 10⁶ times what a central difference can resolve
    (4 ulps of the loss over 2·step, about 2e-9 for a loss of 25 nats): an entry smaller than
    that cannot be told apart to 1e-6 by any finite difference, so it is judged against the floor.
    """
    rng = rng or np.random.default_rng(0)
    loss, grads, _ = loss_and_grads(params, inputs, targets, h_prev, clip=False, masks=masks)
    resolution = 4 * np.finfo(np.float64).eps * max(abs(loss), 1.0) / (2 * step)
    floor = max(1e6 * resolution, 1e-12)
    worst: dict[str, float] = {}
    for name, array in params.items():
        indices = list(np.ndindex(array.shape))
        if samples_per_param is not None and samples_per_param < len(indices):
            chosen = rng.choice(len(indices), size=samples_per_param, replace=False)
            indices = [indices[i] for i in chosen]
        errors = []
        for index in indices:
            original = array[index]
            array[index] = original + step
            loss_plus = loss_and_grads(params, inputs, targets, h_prev, clip=False, masks=masks)[0]
            array[index] = original - step
            loss_minus = loss_and_grads(params, inputs, targets, h_prev, clip=False, masks=masks)[0]
            array[index] = original
            numerical = (loss_plus - loss_minus) / (2 * step)
            analytic = grads[name][index]
            errors.append(abs(analytic - numerical) / max(abs(analytic) + abs(numerical), floor))
        worst[name] = max(errors)
    return worst
