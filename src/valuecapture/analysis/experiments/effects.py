"""Effects of the factors on a response by regression across design points, and the hypotheses tested with them."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy import stats as sps

from valuecapture.analysis.experiments.sensitivity import factor_names
from valuecapture.analysis.experiments.spec import RESPONSES, Hypothesis, show_value
from valuecapture.analysis.summary import _fmt


@dataclass(frozen=True)
class Effect:
    """The effect of one factor on a response, from the regression across design points.

    ``effect`` is the predicted change of the response when the factor moves from
    the low to the high end of its range (true/false factors: false to true; text
    levels: from the first level to this one) with the other factors at the centre
    of theirs; ``coef`` is that per unit of the factor.
    """

    response: str
    term: str
    factor: str
    coef: float
    se: float  # of the effect (HC3)
    low: float  # CI of the effect
    high: float
    t: float
    p: float  # two-sided
    effect: float
    effect_low: float
    effect_high: float
    effect_label: str
    standardized: float  # effect / sd of the response across the points used


@dataclass(frozen=True)
class Regression:
    response: str
    n: int
    r2: float
    effects: list[Effect]
    level: float
    df: int
    model: str


def regress(ds: xr.Dataset, response: str, factors: Sequence[str] | None = None, *, level: float = 0.95) -> Regression:
    """Effects of the factors on a response (one value per design point), by OLS across design points.

    The model codes every numeric factor to [-1, 1] over its range and includes
    its linear term, a quadratic term (factors with more than two distinct values)
    and, when there are at least three points per coefficient, all pairwise
    products of the linear terms; text factors enter as dummies against their
    first level.  The effect of a factor (low -> high, others at the centre of
    their ranges) is twice its linear coefficient; its interval uses
    heteroskedasticity-robust HC3 standard errors and t quantiles.  Curvature and
    interactions are in the model because under common random numbers the
    residuals are mostly deterministic lack of fit, which a straight line would
    leave correlated with the factors.  Sobol designs use only their A and B rows
    (2N independent points): the AB rows repeat A's responses with one column
    changed, which is what the Sobol estimators need but not what OLS assumes.
    """
    r = RESPONSES[response]
    names = list(factors or factor_names(ds))
    y_all = r.reduce(ds[r.variable].values.astype(float), axis=-1)
    rows = (
        np.isin(ds["sobol_block"].values, ["A", "B"]) if "sobol_block" in ds.coords else np.ones(y_all.size, dtype=bool)
    )
    y = y_all[rows]
    n = y.size
    base: list[np.ndarray] = [np.ones(n)]
    lin: list[np.ndarray] = []
    quad: list[np.ndarray] = []
    terms: list[tuple[str, str, int, float, str]] = []  # (term, factor, column, effect per coefficient, label)
    for f in names:
        v = ds[f].values[rows]
        if v.dtype == object:
            levels = list(dict.fromkeys(ds[f].values.tolist()))
            for lv in levels[1:]:
                base.append(np.array([a == lv for a in v.tolist()], dtype=float))
                terms.append((f"{f}={lv}", f, len(base) - 1, 1.0, f"{levels[0]} -> {lv}"))
            continue
        x = v.astype(float)
        lo = float(ds[f].attrs.get("range_low", ds[f].values.astype(float).min()))
        hi = float(ds[f].attrs.get("range_high", ds[f].values.astype(float).max()))
        half = (hi - lo) / 2 or 1.0
        z = (x - (lo + hi) / 2) / half
        base.append(z)
        lin.append(z)
        terms.append(
            (f, f, len(base) - 1, 2.0, "false -> true" if v.dtype == bool else f"{show_value(lo)} -> {show_value(hi)}")
        )
        if np.unique(x).size > 2:
            quad.append(z * z - float(np.mean(z * z)))
    cols = base + quad
    inter = [lin[i] * lin[j] for i in range(len(lin)) for j in range(i + 1, len(lin))]
    with_inter = n >= 3 * (len(cols) + len(inter))
    if with_inter:
        cols = cols + inter
    X = np.column_stack(cols)
    p = X.shape[1]
    df = n - p
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / tss if tss > 0 else float("nan")
    if df > 0:
        xtxi = np.linalg.pinv(X.T @ X)
        h = np.einsum("ij,jk,ik->i", X, xtxi, X)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(h < 1 - 1e-12, resid / (1 - h), 0.0)
        cov = xtxi @ (X.T * u * u) @ X @ xtxi
        se_beta = np.sqrt(np.maximum(np.diag(cov), 0.0))
        tq = float(sps.t.ppf(0.5 + level / 2, df))
    else:
        se_beta = np.full(p, np.nan)
        tq = float("nan")
    sd_y = float(y.std(ddof=1)) if n > 1 else float("nan")
    effects = []
    for term, f, j, k, label in terms:
        eff, se = k * float(beta[j]), k * float(se_beta[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            t = eff / se if se > 0 else (0.0 if eff == 0 else math.copysign(math.inf, eff))
        pval = float(2 * sps.t.sf(abs(t), df)) if df > 0 and math.isfinite(t) else (1.0 if t == 0 else 0.0)
        span = 1.0
        if ds[f].values.dtype != object:
            lo = float(ds[f].attrs.get("range_low", ds[f].values.astype(float).min()))
            hi = float(ds[f].attrs.get("range_high", ds[f].values.astype(float).max()))
            span = (hi - lo) or 1.0
        effects.append(
            Effect(
                response,
                term,
                f,
                eff / span,
                se,
                eff - tq * se,
                eff + tq * se,
                float(t),
                pval,
                eff,
                eff - tq * se,
                eff + tq * se,
                label,
                eff / sd_y if sd_y > 0 else float("nan"),
            )
        )
    model = (
        "linear + quadratic"
        + (" + pairwise interactions" if with_inter else "")
        + " in factors coded to [-1, 1]; HC3 standard errors; "
        + (f"{n} Sobol A and B rows" if "sobol_block" in ds.coords else f"{n} design points")
    )
    return Regression(response, n, r2, effects, level, df, model)


@dataclass(frozen=True)
class HypothesisResult:
    hypothesis: Hypothesis
    effect: Effect
    p: float  # one-sided for increase/decrease, two-sided for any
    supported: bool
    alpha: float

    def sentence(self) -> str:
        h = self.hypothesis
        verb = {"increase": "raises", "decrease": "lowers", "any": "changes"}[h.direction]
        e = self.effect
        ci = f"[{format_number(e.effect_low)}, {format_number(e.effect_high)}]"
        verdict = "supported" if self.supported else "not supported"
        return (
            f"H: {h.factor} {verb} {h.response}: effect {e.effect_label} = {format_number(e.effect)} {ci} "
            f"({'one' if h.direction != 'any' else 'two'}-sided p = {self.p:.3g}): {verdict} at {self.alpha:g}"
        )


def format_number(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    if v != 0 and abs(v) < 0.1:
        return f"{v:.3g}"
    return _fmt(v, abs(v) >= 1000)


def hypothesis_tests(
    ds: xr.Dataset, hypotheses: Sequence[Hypothesis] | None = None, *, alpha: float = 0.05
) -> list[HypothesisResult]:
    """Test each hypothesis with :func:`regress` (all factors in the model)."""
    if hypotheses is None:
        hypotheses = [Hypothesis(**h) for h in json.loads(ds.attrs.get("hypotheses", "[]"))]
    out = []
    for h in hypotheses:
        reg = regress(ds, h.response, level=1 - alpha)
        e = next(x for x in reg.effects if x.factor == h.factor)
        if reg.df <= 0 or not math.isfinite(e.t):
            p = float("nan") if reg.df <= 0 else (0.0 if (e.t > 0) == (h.direction != "decrease") else 1.0)
        elif h.direction == "increase":
            p = float(sps.t.sf(e.t, reg.df))
        elif h.direction == "decrease":
            p = float(sps.t.cdf(e.t, reg.df))
        else:
            p = e.p
        out.append(HypothesisResult(h, e, p, bool(p < alpha), alpha))
    return out
