"""Levenberg-Marquardt least squares with a finite-difference Jacobian. Pure numpy.

Used to fit costmodel.core.efficiency parameters on log(predicted / measured): a handful of
parameters, tens of thousands of rows, so a dense normal-equation step is cheap.
Source: Marquardt, "An algorithm for least-squares estimation of nonlinear parameters"
(SIAM J. Appl. Math. 11(2), 1963).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from costmodel.core.ops import Arr

STEP = 1e-4  # finite-difference step in the (log-)parameters


def _jacobian(resid: Callable[[Arr], Arr], x: Arr, r: Arr) -> Arr:
    jac = np.empty((r.size, x.size))
    for i in range(x.size):
        xx = x.copy()
        xx[i] += STEP
        jac[:, i] = (resid(xx) - r) / STEP
    return jac


def least_squares(resid: Callable[[Arr], Arr], x0: Arr, lo: Arr, hi: Arr,
                  iterations: int = 60) -> Arr:
    """argmin_x sum(resid(x)**2) with x clipped to [lo, hi] after every step."""
    x = np.clip(np.asarray(x0, dtype=float), lo, hi)
    r = resid(x)
    cost, damping = float(r @ r), 1e-2
    for _ in range(iterations):
        jac = _jacobian(resid, x, r)
        a, g = jac.T @ jac, jac.T @ r
        while True:
            step = np.linalg.solve(a + damping * np.diag(np.diag(a) + 1e-12), -g)
            xn = np.clip(x + step, lo, hi)
            rn = resid(xn)
            cn = float(rn @ rn)
            if cn < cost:
                x, r, cost, damping = xn, rn, cn, max(damping / 3.0, 1e-7)
                break
            damping *= 4.0
            if damping > 1e8:
                return x
        if np.abs(step).max() < 1e-6:
            break
    return x
