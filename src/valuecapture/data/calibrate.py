"""The calibrated scenario: estimates from a firm's data mapped onto a base scenario's fields.

:func:`estimate` fits a customer table (and optionally a revenue panel) and returns every
estimate with its standard error, method and fit statistic (:class:`Calibration`);
:func:`calibrated_scenario` puts them into the base scenario, which keeps its business models,
policy, economics and dynamics wherever the data say nothing; :func:`render` writes the
scenario as TOML with a comment above each estimated field, :func:`sidecar` the same in JSON
with the data files' SHA-256; :func:`write_files` writes both atomically, replacing earlier
files only with ``overwrite`` and only files that ``calibrate`` wrote.  :func:`calibrate` does
all of it, as ``valuecapture calibrate`` does.  The mapping and its assumptions are in
docs/calibration.md.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from valuecapture.data import churn as sbg
from valuecapture.data.copula import nearest_correlation, score_correlation
from valuecapture.data.marginals import MarginalChoice, fit_marginal, rounded
from valuecapture.data.panel import DemandFit, PanelData, fit_demand, growth_matrix, mean_growth_noise
from valuecapture.data.read import CustomerTable, DataError, Panel, parse_column_options, read_data, read_mapping
from valuecapture.scenario import distributions as dists
from valuecapture.scenario.business import effective_factors
from valuecapture.scenario.load import (
    CORRELATED,
    Scenario,
    ScenarioError,
    correlation_matrix,
    from_dict,
    is_safe_name,
    load_scenario,
    loads,
)
from valuecapture.version import __version__

#: A segment with fewer customers than this is an error (it cannot be fitted; usually a typo).
MIN_SEGMENT_CUSTOMERS = 5
#: A segment gets its own churn fit from this many customers and churn events on; pooled below.
MIN_CHURN_SEGMENT_CUSTOMERS = 100
MIN_CHURN_SEGMENT_EVENTS = 20
#: Fewer values than this: a marginal keeps the base scenario's distribution.
MIN_MARGINAL = 20
#: Fewer customers than this in the whole table: nothing can be estimated.
MIN_CUSTOMERS = 10
#: Customers active for less than this at the end of observation have no full year of revenue:
#: their revenue is left out of the fits; from it up to a year it is scaled to a year.
MIN_TENURE_DAYS = 90
#: Acquisitions per year are counted over the last this many years of observation.
ACQUISITION_WINDOW_YEARS = 3.0
#: Below this reliability of customers' mean growth, growth stays out of the copula.
MIN_GROWTH_RELIABILITY = 0.2

#: First line of every scenario that ``calibrate`` writes (what ``--overwrite`` may replace).
MARKER = "# Calibrated by valuecapture calibrate"
SIDECAR_FORMAT = 1


class OutputFileError(ValueError):
    """The output file cannot be written as asked (bad input: exit code 2)."""


@dataclass(frozen=True)
class Estimate:
    """One estimated scenario input: the value the scenario gets and how it was found."""

    path: str  # scenario field, e.g. "uncertainties.wallet" or "demand.persistence"
    value: Any  # a number, or a distribution table
    se: Any  # a float, or {parameter: float}
    method: str
    statistic: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def comment(self) -> list[str]:
        """The comment lines written above the field."""
        if isinstance(self.se, dict):
            se = ", ".join(f"{k} {_num(v)}" for k, v in self.se.items())
        else:
            se = _num(self.se)
        lines = [f"# estimated: {_value_text(self.value)} (s.e. {se}); {self.method}"]
        if self.statistic:
            lines.append(f"#   {self.statistic}")
        return lines

    def describe(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "se": self.se,
            "method": self.method,
            "statistic": self.statistic,
            "details": _plain(self.details),
        }


@dataclass(frozen=True)
class Calibration:
    """Everything estimated from the data: field estimates, the copula, notes, and the data's provenance."""

    estimates: dict[str, Estimate]
    correlations: list[dict[str, Any]]  # the [[correlations]] entries the scenario gets
    correlation_details: list[dict[str, Any]]  # estimated pairs with se and n
    notes: list[str]
    data: dict[str, Any]
    #: the data behind the fits, for the fit checks (not written): ``lifetimes`` (churn.Lifetimes), ``lost``
    #: (mask, table order), ``segment`` (codes) and ``segments`` (names), ``revenue`` (annual, NaN if not active),
    #: and the values each marginal was fitted to, by input name
    samples: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def values(self) -> dict[str, Any]:
        """``{field path: value}`` for :meth:`Scenario.with_values`."""
        return {path: e.value for path, e in self.estimates.items()}


# ---------------------------------------------------------------------------
# Estimation
# ---------------------------------------------------------------------------


def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _value_text(value: Any) -> str:
    if isinstance(value, dict):
        return value["dist"] + "(" + ", ".join(f"{k}={_num(v)}" for k, v in value.items() if k != "dist") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_num(v) if not isinstance(v, str) else repr(v) for v in value) + "]"
    return _num(value)


def _plain(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays made JSON-ready (non-finite numbers as ``None``)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    return obj


def _quantile_grid(dist: dists.Distribution, k: int = 64) -> np.ndarray:
    return np.asarray(dist.ppf((np.arange(k) + 0.5) / k), dtype=float)


def mean_share_of_wallet(base: Scenario) -> float:
    """Expected share of wallet of an existing relationship at t = 0 under the base scenario:
    ``E[logistic(sow_intercept + sow_trust T0 + sow_adaptation A0)]`` over its initial trust and
    adaptation distributions (a 64 x 64 quantile grid; their means when relationship heterogeneity is off)."""
    g = base.get
    if g("heterogeneity.relationship"):
        t = np.clip(_quantile_grid(g("uncertainties.initial_trust")), 0.0, 1.0)
        a = np.clip(_quantile_grid(g("uncertainties.initial_adaptation")), 0.0, 1.0)
    else:
        t = np.array([g("uncertainties.initial_trust").mean()])
        a = np.array([g("uncertainties.initial_adaptation").mean()])
    logit = g("relationship.sow_intercept") + g("relationship.sow_trust") * t[:, None]
    logit = logit + g("relationship.sow_adaptation") * a[None, :]
    return float(np.mean(1.0 / (1.0 + np.exp(-logit))))


def _marginal_estimate(path: str, choice: MarginalChoice, what: str) -> Estimate:
    best = choice.best
    ranking = ", ".join(f"{f.family} {f.aic - best.aic:+.1f}" for f in choice.fits[1:])
    method = f"maximum likelihood, {best.family} chosen by AIC among {len(choice.fits)} families"
    statistic = (
        f"KS D = {best.ks_statistic:.4f} (p = {best.ks_pvalue:.3g}, parameters taken as known), n = {best.n}"
        + (f", {choice.excluded} left out" if choice.excluded else "")
        + (f"; AIC vs best: {ranking}" if ranking else "")
    )
    se = {k: v for k, v in best.se.items()}
    return Estimate(path, best.table(), se, method, statistic, {"of": what, **choice.describe()})


def _ratio_estimate(y: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """``sum y / sum x`` and its linearization standard error."""
    n = y.size
    r = float(y.sum() / x.sum())
    if n < 2:
        return r, math.nan
    resid = y - r * x
    return r, float(np.sqrt(np.var(resid, ddof=1) / n) / np.mean(x))


def _segments(table: CustomerTable) -> tuple[list[str], np.ndarray]:
    """Segment names (most customers first) and each customer's segment code; checks sizes."""
    if table.segment is None:
        return [], np.zeros(table.n, dtype=np.int64)
    names, codes, counts = np.unique(table.segment.astype(str), return_inverse=True, return_counts=True)
    for k in np.flatnonzero(counts < MIN_SEGMENT_CUSTOMERS):
        i = int(np.flatnonzero(codes == k)[0])
        raise DataError(
            table.source.path,
            int(table.row[i]),
            table.label("segment"),
            f"segment {str(names[k])!r} has {int(counts[k])} customer{'s' if counts[k] != 1 else ''}, too few to fit; "
            f"allowed: segments of at least {MIN_SEGMENT_CUSTOMERS} customers (merge it into another or drop its rows)",
        )
    order = sorted(range(names.size), key=lambda k: (-int(counts[k]), str(names[k])))
    recode = np.empty(names.size, dtype=np.int64)
    recode[order] = np.arange(names.size)
    return [str(names[k]) for k in order], recode[codes]


def _churn(table: CustomerTable, base: Scenario, names: list[str], codes: np.ndarray, notes: list[str]) -> Estimate:
    ppy = int(base.get("horizon.periods_per_year"))
    lt, lost = sbg.lifetimes(table.acquired, table.churned, table.as_of, ppy)
    if lt.events == 0:
        raise DataError(
            table.source.path,
            None,
            table.label("churned"),
            f"no customer churned by {table.as_of} (every 'churned' cell is empty): churn cannot be estimated; "
            "allowed: a table with at least one lost customer (or an --as-of after some losses)",
        )
    pooled = sbg.fit_sbg(lt)
    lost_codes, cens_codes = codes[lost], codes[~lost]
    segments: dict[str, Any] = {}
    fitted_ll, groups, rest_lost, rest_cens = 0.0, 0, np.zeros(lost_codes.size, bool), np.zeros(cens_codes.size, bool)
    for k, name in enumerate(names):
        ml, mc = lost_codes == k, cens_codes == k
        n, events = int(ml.sum() + mc.sum()), int(ml.sum())
        if n >= MIN_CHURN_SEGMENT_CUSTOMERS and events >= MIN_CHURN_SEGMENT_EVENTS:
            fit = sbg.fit_sbg(lt.subset(ml, mc))
            segments[name] = fit.describe()
            fitted_ll += fit.loglik
            groups += 1
        else:
            segments[name] = {
                "pooled": True,
                "n": n,
                "events": events,
                "reason": f"fewer than {MIN_CHURN_SEGMENT_CUSTOMERS} customers or "
                f"{MIN_CHURN_SEGMENT_EVENTS} churn events",
            }
            rest_lost |= ml
            rest_cens |= mc
    details: dict[str, Any] = {"pooled": pooled.describe(), "segments": segments, "periods_per_year": ppy}
    if names and groups:
        if rest_lost.any():
            fitted_ll += sbg.fit_sbg(lt.subset(rest_lost, rest_cens)).loglik
            groups += 1
        elif rest_cens.any():
            fitted_ll += sbg.loglik(pooled.a, pooled.b, lt.subset(rest_lost, rest_cens))
        df = 2 * (groups - 1)
        if df > 0:
            lr = max(2.0 * (fitted_ll - pooled.loglik), 0.0)
            p = float(stats.chi2.sf(lr, df))
            details["segments_differ"] = {"lr": lr, "df": df, "p": p}
            notes.append(
                f"churn: {groups - (1 if rest_lost.any() else 0)} segment(s) fitted on their own "
                f"(likelihood-ratio test against one pooled Beta: chi2 = {lr:.1f}, df = {df}, p = {p:.3g}); "
                "the engine has one churn distribution, so the scenario gets the pooled fit "
                "and the per-segment fits are in the sidecar"
            )
    small = [n for n, s in segments.items() if s.get("pooled")]
    if small:
        notes.append(
            f"churn: segment(s) {', '.join(small)} pooled (too few customers or churn events for their own fit)"
        )
    effect = float(base.get("relationship.churn_trust_effect"))
    trust = np.clip(_quantile_grid(base.get("uncertainties.initial_trust")), 0.0, 1.0)
    factor = float(np.mean(np.exp(effect * (trust - 0.5))))
    details["trust_hazard_factor"] = factor
    if abs(factor - 1.0) > 0.02:
        notes.append(
            f"churn: the data give realised churn, the engine's churn is at reference trust 0.5; with the base's "
            f"initial trust (mean {float(trust.mean()):.2f}) and churn_trust_effect {effect:g} the simulated hazard of "
            f"today's customers starts at {factor:.2f}x the data's (not adjusted here; docs/calibration.md)"
        )
    sa, sb = pooled.se
    dt = 1.0 / ppy
    per_period = 1.0 - float(sbg.survival(pooled.a, pooled.b, dt))
    return Estimate(
        "uncertainties.churn",
        {"dist": "beta", "a": rounded(pooled.a), "b": rounded(pooled.b)},
        {"a": sa, "b": sb},
        f"shifted-beta-geometric maximum likelihood with right-censoring (Fader & Hardie 2007), "
        f"lifetimes on the {ppy}-per-year period grid",
        f"n = {pooled.n}, lost = {pooled.events}, log L = {pooled.loglik:.2f}; mean annual churn "
        f"{pooled.mean:.4f}, first-year retention {pooled.retention(1.0):.4f}, first-period churn {per_period:.4f}",
        details,
    )


def _tenure_days(table: CustomerTable) -> np.ndarray:
    return np.asarray((table.as_of - table.acquired).astype("timedelta64[D]").astype(np.int64))


def _economics(table: CustomerTable, panel: Panel | None, ppy: int, notes: list[str]) -> dict[str, np.ndarray]:
    """Each customer's latest annual revenue, COGS and cost to serve (``NaN`` where unknown or
    not active at ``as_of``)."""
    n = table.n
    active = table.active
    out = {k: np.full(n, np.nan) for k in ("revenue", "cogs", "cost_to_serve")}
    if "revenue" in table.values:
        tenure = _tenure_days(table)
        factor = np.where(tenure >= 365.25, 1.0, 365.25 / np.maximum(tenure, 1))
        usable = active & (tenure >= MIN_TENURE_DAYS)
        for k in out:
            if k in table.values:
                out[k] = np.where(usable, table.values[k] * factor, np.nan)
        if "cogs" not in table.values and "gross_margin" in table.values:
            out["cogs"] = out["revenue"] * (1.0 - table.values["gross_margin"])
        short = int((active & (tenure < MIN_TENURE_DAYS)).sum())
        scaled = int((usable & (tenure < 365.25)).sum())
        if short:
            notes.append(
                f"revenue: {short} active customer(s) with less than {MIN_TENURE_DAYS} days of tenure left out of the "
                "revenue-based fits (no representative year of revenue yet)"
            )
        if scaled:
            notes.append(
                f"revenue: {scaled} active customer(s) with less than a year of tenure: revenue scaled to a year"
            )
    elif panel is not None:
        keep = np.ones(panel.customer.size, dtype=bool)
        if panel.unit == "year":
            acq_year = table.acquired.astype("datetime64[Y]").astype(np.int64) + 1970
            keep &= panel.time != acq_year[panel.customer]  # a first year is a part of a year
        order = np.lexsort((panel.time, panel.customer))
        order = order[keep[order]]
        who = panel.customer[order]
        final = order[np.r_[who[1:] != who[:-1], True]] if order.size else order  # each customer's latest row
        idx = np.full(n, -1, dtype=np.int64)
        idx[panel.customer[final]] = final
        last = idx >= 0
        per_year = 1.0 if panel.unit == "year" else float(ppy)
        for k in out:
            if k in panel.values:
                vals = np.full(n, np.nan)
                vals[last] = panel.values[k][idx[last]] * per_year
                out[k] = np.where(active, vals, np.nan)
        notes.append(
            f"revenue: each active customer's latest complete {panel.unit} in the panel "
            "(no revenue column in the table)"
        )
    return out


def _acquisition(table: CustomerTable, base: Scenario, notes: list[str]) -> Estimate | None:
    span = float((table.as_of - table.acquired.min()).astype("timedelta64[D]").astype(np.int64)) / sbg.DAYS_PER_YEAR
    window = min(ACQUISITION_WINDOW_YEARS, span)
    if window < 0.25:
        notes.append("acquisition: less than a quarter of a year observed; prospects_per_year kept from the base")
        return None
    start = table.as_of - np.timedelta64(int(round(window * sbg.DAYS_PER_YEAR)), "D")
    won = int(((table.acquired > start) & (table.acquired <= table.as_of)).sum())
    ends = np.where(np.isnat(table.churned), table.as_of, table.churned)
    overlap = (np.minimum(ends, table.as_of) - np.maximum(table.acquired, start)).astype("timedelta64[D]")
    customer_years = float(np.maximum(overlap.astype(np.int64), 0).sum()) / sbg.DAYS_PER_YEAR
    mean_active = customer_years / window
    rate = won / window
    referral = 0.0
    if base.get("heterogeneity.interdependence"):
        trust = float(np.clip(base.get("uncertainties.initial_trust").mean(), 0.0, 1.0))
        referral = float(base.get("acquisition.referral_rate")) * trust * mean_active
    prospects = max(rate - referral, 0.0)
    return Estimate(
        "acquisition.prospects_per_year",
        rounded(prospects),
        math.sqrt(won) / window,
        f"customers won in the last {window:.2f} years ({won}) per year, less the referrals the base's "
        f"referral_rate x mean initial trust x {mean_active:.0f} active customers brings ({referral:.1f}/year)",
        f"Poisson count: s.e. sqrt(n)/years; {won} won",
        {"won": won, "window_years": window, "rate": rate, "referrals_per_year": referral, "mean_active": mean_active},
    )


def _panel_data(table: CustomerTable, panel: Panel, codes: np.ndarray, ppy: int) -> tuple[PanelData, np.ndarray]:
    keep = np.ones(panel.customer.size, dtype=bool)
    if panel.unit == "year":  # the years a customer was won or lost are parts of years
        acq = table.acquired.astype("datetime64[Y]").astype(np.int64) + 1970
        lost = np.where(
            np.isnat(table.churned),
            np.iinfo(np.int64).max,
            table.churned.astype("datetime64[Y]").astype(np.int64) + 1970,
        )
        keep &= (panel.time != acq[panel.customer]) & (panel.time != lost[panel.customer])
    d, who = growth_matrix(panel.customer, panel.time, panel.values["revenue"], keep, table.n)
    m = ppy if panel.unit == "year" else 1
    return PanelData(d, codes[who], m, 1.0 / ppy), who


def _demand_estimates(fit: DemandFit, panel: Panel, single_segment: bool) -> list[Estimate]:
    method = (
        f"method of moments on log revenue growth between consecutive {panel.unit}s (autocovariances at lags 0-2 "
        "with random customer growth and temporal aggregation; docs/calibration.md)"
    )
    stat = f"{fit.customers} customers, {fit.steps} growth observations"
    se = fit.se
    out = [
        Estimate("demand.persistence", rounded(fit.persistence), se["persistence"], method, stat, fit.describe()),
        Estimate("demand.volatility", rounded(fit.volatility), se["volatility"], method, stat),
    ]
    corr = "covariance of two customers' growth in the same " + ("step" if single_segment else "segment and step")
    jack = "s.e.: the larger of a bootstrap over customers and a jackknife over steps"
    out.append(Estimate("demand.rho_within", rounded(fit.rho_within), se["rho_within"], corr, jack))
    out.append(
        Estimate(
            "demand.rho_across",
            rounded(fit.rho_across),
            se["rho_within" if single_segment else "rho_across"],
            "no segments in the data: equal to rho_within" if single_segment else corr.replace("same", "different"),
            jack,
        )
    )
    if fit.growth_scale > 0:
        growth: dict[str, Any] = {"dist": "norm", "loc": rounded(fit.growth_loc), "scale": rounded(fit.growth_scale)}
        gse: Any = {"loc": se["growth_log_mean"], "scale": se["growth_log_sd"]}
    else:
        growth, gse = {"dist": "fixed", "value": rounded(fit.growth_loc)}, {"value": se["growth_log_mean"]}
    out.append(
        Estimate(
            "uncertainties.growth",
            growth,
            gse,
            "mean and customer-to-customer sd of annual log revenue growth net of demand shocks (same moments), "
            "as a normal growth rate",
            stat + "; s.e.: bootstrap over customers",
            {"free": ["loc", "scale"], "cov": fit.growth_cov} if fit.growth_scale > 0 else {},
        )
    )
    return out


def estimate(
    table: CustomerTable,
    panel: Panel | None = None,
    base: Scenario | None = None,
    bootstrap: int = 200,
) -> Calibration:
    """Estimate the scenario's uncertain inputs from the customer table (and panel).

    ``base`` gives the period length, the share of wallet and the other assumptions the mapping
    needs (default: every field's documented default).  Raises :class:`DataError` for data that
    cannot be fitted (a segment too small, no churn observed, too few customers)."""
    base = base or default_base()
    notes: list[str] = []
    src = table.source.path
    if table.n < MIN_CUSTOMERS:
        raise DataError(
            src, None, None, f"has {table.n} customers; at least {MIN_CUSTOMERS} are needed to fit anything"
        )
    active = table.active
    if not active.any():
        raise DataError(
            src,
            None,
            table.label("churned"),
            f"every customer churned by {table.as_of}: the scenario needs the customers still active at the start",
        )
    ppy = int(base.get("horizon.periods_per_year"))
    names, codes = _segments(table)
    est: dict[str, Estimate] = {}

    def put(e: Estimate | None) -> None:
        if e is not None:
            est[e.path] = e

    n_active = int(active.sum())
    put(Estimate("customers.count", n_active, 0.0, f"customers active at {table.as_of} (no churn date)"))
    if names:
        weights = [float((active & (codes == k)).sum()) for k in range(len(names))]
        put(Estimate("customers.segments", names, 0.0, "segments in the data, largest first"))
        put(Estimate("customers.segment_weights", weights, 0.0, "active customers per segment"))
    slots = int(base.get("customers.max_slots"))
    if slots and slots < n_active:
        put(Estimate("customers.max_slots", 0, 0.0, "automatic (the base's max_slots is below the customer count)"))
    put(_churn(table, base, names, codes, notes))
    lt, lost = sbg.lifetimes(table.acquired, table.churned, table.as_of, ppy)
    samples: dict[str, Any] = {"lifetimes": lt, "lost": lost, "segment": codes, "segments": names}
    km_years = np.arange(0, int(np.floor(max(float(lt.censored.max(initial=0.0)), float(lt.lost_by.max()))) + 1))
    est["uncertainties.churn"].details["kaplan_meier"] = sbg.kaplan_meier(lt, km_years.astype(float)).describe()
    tenure_years = _tenure_days(table)[active] / sbg.DAYS_PER_YEAR
    age = fit_marginal(tenure_years, lo=0.0) if tenure_years.size >= MIN_MARGINAL else None
    if age is not None:
        samples["initial_age"] = tenure_years
        put(_marginal_estimate("uncertainties.initial_age", age, "tenure of the active customers at as_of, years"))
    econ = _economics(table, panel, ppy, notes)
    revenue = econ["revenue"]
    have_revenue = np.isfinite(revenue)
    columns: dict[str, np.ndarray] = {}
    # today's customers are served by the base's first business model (every slot starts in it):
    # the engine multiplies net price and cost to serve by its factors, so they are divided out here
    price_factor, cts_factor = effective_factors(base)
    price_mean = float(base.get("uncertainties.price").mean()) * price_factor  # as the data see it
    price = np.full(table.n, price_mean)
    if "net_price" in table.values:
        net = np.where(active, table.values["net_price"], np.nan)
        ok = np.isfinite(net)
        price = np.where(ok, net, price_mean)
        choice = fit_marginal(net[ok] / price_factor, lo=0.0) if ok.sum() >= MIN_MARGINAL else None
        if choice is not None:
            put(
                _marginal_estimate("uncertainties.price", choice, "net price of the active customers, fraction of list")
            )
            columns["price"] = net
            samples["price"] = net[ok]
    sow = mean_share_of_wallet(base)
    if have_revenue.sum() >= MIN_MARGINAL:
        wallet = revenue / (price * sow)
        choice = fit_marginal(wallet[have_revenue], lo=0.0)
        if choice is not None:
            e = _marginal_estimate(
                "uncertainties.wallet",
                choice,
                f"annual revenue / (net price x the base's mean initial share of wallet {sow:.4f})",
            )
            put(e)
            columns["wallet"] = np.where(have_revenue & (wallet > 0), wallet, np.nan)
            samples["wallet"] = wallet[have_revenue]
        samples["revenue"] = np.where(have_revenue, revenue, np.nan)
        money = float(np.nanmean(revenue))
        base_money = float(base.get("uncertainties.wallet").mean()) * price_mean * sow
        if base_money > 0 and not 0.1 <= money / base_money <= 10:
            notes.append(
                f"money: the data's mean revenue per customer ({money:,.0f}) is {money / base_money:.2g}x the base's "
                f"({base_money:,.0f}); the base's fixed costs, service costs and acquisition cost are kept as they "
                "are: check they are in the data's currency and scale"
            )
    elif "revenue" in table.values or panel is not None:
        notes.append(f"wallet: fewer than {MIN_MARGINAL} active customers with revenue; kept from the base")
    adapt = 1.0 + float(base.get("relationship.adaptation_cost")) * float(
        base.get("uncertainties.initial_adaptation").mean()
    )
    if np.isfinite(econ["cost_to_serve"]).any():
        with np.errstate(divide="ignore", invalid="ignore"):
            cts = np.where(revenue > 0, econ["cost_to_serve"] / revenue / adapt / cts_factor, np.nan)
        if np.isfinite(cts).sum() >= MIN_MARGINAL:
            choice = fit_marginal(cts[np.isfinite(cts)], lo=0.0)
            if choice is not None:
                put(
                    _marginal_estimate(
                        "uncertainties.cost_to_serve",
                        choice,
                        "cost to serve / revenue / (1 + the base's adaptation_cost x mean initial adaptation "
                        f"= {adapt:.4f})",
                    )
                )
                columns["cost_to_serve"] = np.where(cts > 0, cts, np.nan)
                samples["cost_to_serve"] = cts[np.isfinite(cts)]
    cogs = econ["cogs"]
    ok = np.isfinite(cogs) & have_revenue & (revenue > 0)
    if ok.sum() >= MIN_MARGINAL:
        volume = revenue[ok] / price[ok]
        r, se = _ratio_estimate(cogs[ok], volume)
        if 0 <= r <= 5:
            put(
                Estimate(
                    "economics.cogs_ratio",
                    rounded(r),
                    se,
                    "sum of COGS / sum of list-price volume (revenue / net price), active customers",
                    f"ratio estimator, linearization s.e.; n = {int(ok.sum())}",
                )
            )
        else:
            notes.append(f"cogs_ratio: the data give {r:.3g}, outside [0, 5]; kept from the base")
    if "dso_days" in table.values:
        dso = np.where(active, table.values["dso_days"], np.nan)
        ok = np.isfinite(dso) & have_revenue & (revenue > 0)
        if ok.sum() >= MIN_MARGINAL:
            r, se = _ratio_estimate(dso[ok] * revenue[ok], revenue[ok])
            put(
                Estimate(
                    "economics.dso_days",
                    rounded(r),
                    se,
                    "revenue-weighted mean DSO of the active customers (receivables / revenue x 365)",
                    f"ratio estimator, linearization s.e.; n = {int(ok.sum())}",
                )
            )
    put(_acquisition(table, base, notes))
    demand: DemandFit | None = None
    if panel is not None:
        data, who = _panel_data(table, panel, codes, ppy)
        try:
            demand = fit_demand(data, bootstrap=bootstrap)
        except ValueError:
            raise DataError(
                panel.source.path,
                None,
                None,
                f"no customer has revenue in 4 consecutive complete {panel.unit}s; demand dynamics need at least that "
                "(a customer's first and last year count as partial)",
            ) from None
        for e in _demand_estimates(demand, panel, single_segment=len(names) <= 1):
            put(e)
        notes.extend(f"demand: {n}" for n in demand.notes)
        steps = np.isfinite(data.d).sum(axis=1)
        mean_growth = np.full(table.n, np.nan)
        mean_growth[who] = np.nanmean(data.d, axis=1) / data.step_years
        noise = mean_growth_noise(demand, steps, data.m, data.dt)
        v_g = demand.growth_log_sd**2
        reliability = float(np.mean(v_g / (v_g + noise))) if v_g > 0 else 0.0
        if reliability >= MIN_GROWTH_RELIABILITY:
            columns["growth"] = np.where(active, mean_growth, np.nan)
        else:
            notes.append(
                f"copula: growth left out (customers' mean growth over the panel is {reliability:.0%} growth rate and "
                f"the rest demand noise; at least {MIN_GROWTH_RELIABILITY:.0%} is needed)"
            )
    else:
        reliability = 1.0
    correlations, pairs = _correlations(base, columns, reliability, notes)
    if correlations is not None:
        est["correlations"] = Estimate(
            "correlations",
            correlations,
            {f"{p['between'][0]}-{p['between'][1]}": p["se"] for p in pairs},
            "normal scores of the ranks (van der Waerden), Pearson correlation of the scores",
            "",
            {"pairs": pairs},
        )
    data_info = {
        "customers": {
            "path": table.source.path,
            "sha256": table.source.sha256,
            "rows": table.source.rows,
            "columns": table.columns,
        },
        "panel": None
        if panel is None
        else {
            "path": panel.source.path,
            "sha256": panel.source.sha256,
            "rows": panel.source.rows,
            "unit": panel.unit,
            "columns": panel.columns,
        },
        "as_of": str(table.as_of),
        "as_of_given": table.as_of_given,
        "active": n_active,
        "churned": int((~active).sum()),
        "share_of_wallet": sow,
    }
    return Calibration(
        est,
        [] if correlations is None else correlations,
        pairs,
        notes,
        data_info,
        samples,
    )


def _correlations(
    base: Scenario, columns: dict[str, np.ndarray], growth_reliability: float, notes: list[str]
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """The scenario's [[correlations]]: estimated pairs among ``columns``, the base's pairs that
    involve an attribute not estimated, made positive definite together."""
    if len(columns) < 2:
        return None, []
    fit = score_correlation({k: columns[k] for k in CORRELATED if k in columns})
    idx = {name: i for i, name in enumerate(CORRELATED)}
    full = correlation_matrix(base.correlations)
    estimated = set(columns)
    pairs: list[dict[str, Any]] = []
    for a, b, rho, se, n in fit.pairs():
        if "growth" in (a, b) and growth_reliability < 1:
            rho = float(np.clip(rho / math.sqrt(growth_reliability), -0.95, 0.95))
            se = se / math.sqrt(growth_reliability)
        full[idx[a], idx[b]] = full[idx[b], idx[a]] = rho
        pairs.append({"between": [a, b], "rho": rho, "se": se, "n": n})
    if "growth" in columns and growth_reliability < 1:
        notes.append(
            f"copula: correlations with growth divided by sqrt({growth_reliability:.2f}), the share of customers' "
            "mean panel growth that is their growth rate (disattenuation)"
        )
    if fit.repaired:
        notes.append(
            "copula: the pairwise correlations were not positive definite; nearest correlation matrix (Higham)"
        )
    matrix, repaired = nearest_correlation(full)
    if repaired and not fit.repaired:
        notes.append(
            "copula: with the base's other correlations the matrix was not positive definite; repaired (Higham)"
        )
    entries: list[dict[str, Any]] = []
    k = len(CORRELATED)
    for digits in (4, 6, 8):
        entries = []
        for i in range(k):
            for j in range(i + 1, k):
                a, b = CORRELATED[i], CORRELATED[j]
                keep = (a in estimated and b in estimated) or abs(matrix[i, j]) > 10 ** (-digits)
                if keep and round(float(matrix[i, j]), digits) != 0.0:
                    entries.append({"between": [a, b], "rho": round(float(matrix[i, j]), digits)})
        try:
            correlation_matrix(entries)
            break
        except ScenarioError:
            continue
    for p in pairs:
        i, j = idx[p["between"][0]], idx[p["between"][1]]
        p["rho"] = float(matrix[i, j])
    return entries, pairs


#: The customer inputs whose distribution parameters get an ``[[estimates]]`` entry, in this order.
ESTIMATED_INPUTS = ("wallet", "price", "cost_to_serve", "growth", "churn")


def _fit_covariance(e: Estimate) -> tuple[list[str], np.ndarray] | None:
    """The free parameters of an estimated distribution and their sampling covariance (``None``
    where there is none or it could not be computed)."""
    d = e.details
    if e.path == "uncertainties.churn" and "cov" not in d:
        d = d["pooled"]
    free, cov = d.get("free", ["a", "b"] if e.path == "uncertainties.churn" else None), d.get("cov")
    if free is None or cov is None:
        return None
    c = np.asarray(cov, dtype=float).reshape(len(free), len(free))
    if not np.all(np.isfinite(c)):
        return None
    return list(free), c


def estimate_entries(calibration: Calibration) -> list[dict[str, Any]]:
    """The scenario's ``[[estimates]]``: one entry per fitted customer-input distribution
    (:data:`ESTIMATED_INPUTS`) with its free parameters (scenario names, e.g. ``uncertainties.churn.a``)
    and their sampling covariance, row by row (exactly symmetric).  Marginals and churn: the inverse
    observed information (the likelihood's curvature); growth, a moment estimate: the bootstrap over
    customers.  An input whose covariance is not available (a flat likelihood) gets no entry."""
    out: list[dict[str, Any]] = []
    for name in ESTIMATED_INPUTS:
        e = calibration.estimates.get(f"uncertainties.{name}")
        got = None if e is None else _fit_covariance(e)
        if e is None or got is None:
            continue
        free, c = got
        c = np.triu(c) + np.triu(c, 1).T  # exactly symmetric
        if np.linalg.eigvalsh(c).min() < 0:
            continue
        if name == "growth":
            method = "moments of log revenue growth; covariance from the bootstrap over customers"
        elif name == "churn":
            method = "shifted-beta-geometric maximum likelihood with right-censoring; covariance: observed information"
        else:
            method = f"maximum likelihood ({e.value['dist']}); covariance: inverse observed information"
        adjust = e.details.get("survival_match")
        if adjust:
            method += f"; b scaled by {adjust['factor']:.4g} to match the simulated survival (its row and column too)"
        out.append(
            {
                "fields": [f"uncertainties.{name}.{p}" for p in free],
                "covariance": [float(v) for v in c.reshape(-1)],
                "method": method,
            }
        )
    return out


# ---------------------------------------------------------------------------
# The scenario and its files
# ---------------------------------------------------------------------------


def default_base() -> Scenario:
    """The base scenario when none is given: every field at its documented default (docs/scenarios.md)."""
    return from_dict({"scenario": {"name": "calibrated"}}, source="<defaults>")


def source_entry(data: str | Path, out: str | Path) -> str:
    """``customers.source`` for the data file ``data`` in a scenario written to ``out``: its path
    relative to ``out``'s folder (POSIX separators).  Raises :class:`OutputFileError` when the data
    file does not lie inside that folder's tree (a scenario may not read outside its folder)."""
    folder = Path(out).resolve().parent
    target = Path(data).resolve()
    if not target.is_relative_to(folder):
        raise OutputFileError(
            f"--source: {data} is not inside {folder} (the folder of --out), and a scenario reads customers only "
            "from its own folder tree; write --out beside the data (or above it), or copy the data there"
        )
    return target.relative_to(folder).as_posix()


def calibrated_scenario(
    base: Scenario,
    calibration: Calibration,
    name: str,
    description: str,
    customers: Mapping[str, str] | None = None,
) -> Scenario:
    """The base scenario with the calibration's values and its ``[[estimates]]`` (validated:
    raises ScenarioError if invalid).  ``customers``: ``source``, ``as_of``, ``columns`` of
    ``[customers]`` (start from the actual customers; the file is not read here)."""
    raw = base.to_dict()
    if customers:
        raw["customers"].update(customers)
    for path, e in calibration.estimates.items():
        if path == "correlations":
            raw["correlations"] = e.value
            continue
        section, key = path.rsplit(".", 1)
        node = raw
        for part in section.split("."):
            node = node.setdefault(part, {})
        node[key] = e.value
    raw["estimates"] = estimate_entries(calibration)
    raw["scenario"]["name"] = name
    raw["scenario"]["description"] = description
    return from_dict(raw, source="<calibrated>")


def render(scenario: Scenario, calibration: Calibration, header: list[str]) -> str:
    """The scenario as TOML: ``header`` comment lines, the notes, then every field with the
    estimated ones preceded by their estimate, standard error, method and fit statistic."""
    body = scenario.to_toml().splitlines()
    by_path = calibration.estimates
    pairs = {tuple(p["between"]): p for p in calibration.correlation_details}
    out = [MARKER + f" {__version__}", *header]
    if calibration.notes:
        out.append("#")
        out.append("# notes:")
        out.extend(f"#   - {n}" for n in calibration.notes)
    out.append("")
    section = ""
    for i, line in enumerate(body):
        stripped = line.strip()
        if stripped.startswith("[[") and stripped.endswith("]]"):
            section = stripped[2:-2]
            if section == "correlations":
                nxt = next((b for b in body[i + 1 :] if b.startswith("between")), "")
                names = tuple(s.strip(' "') for s in nxt.partition("=")[2].strip(" []").split(","))
                p = pairs.get((names[0], names[1])) if len(names) == 2 else None
                if p is not None:
                    out.append(
                        f"# estimated: rho {p['rho']:.4f} (s.e. {_num(p['se'])}, n = {p['n']}); "
                        "normal scores of the ranks (van der Waerden)"
                    )
                elif "correlations" in by_path:
                    out.append("# from the base scenario (an attribute the data do not give)")
            elif section == "estimates" and not any(o.startswith("[[estimates]]") for o in out):
                out += [
                    "# The estimated distribution parameters with their sampling covariance (row by row):",
                    "# valuecapture run THIS.toml --parameter-uncertainty draws them per group of replications",
                    "# and splits the variance of firm value (docs/calibration.md).",
                ]
        elif stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            if section in by_path:
                out.extend(by_path[section].comment())
        elif "=" in stripped and not stripped.startswith("#"):
            key = stripped.partition("=")[0].strip()
            path = f"{section}.{key}" if section else key
            if path in by_path and path != "correlations":
                out.extend(by_path[path].comment())
        out.append(line)
    return "\n".join(out) + "\n"


def sidecar(scenario: Scenario, calibration: Calibration, base_source: str) -> dict[str, Any]:
    """The sidecar JSON: every estimate (value, s.e., method, statistic, fits with covariances),
    the correlations, the notes, and the data files' paths, SHA-256 and row counts."""
    return _plain(
        {
            "format": SIDECAR_FORMAT,
            "written_by": f"valuecapture calibrate {__version__}",
            "scenario": scenario.name,
            "base": base_source,
            "data": calibration.data,
            "estimates": {path: e.describe() for path, e in calibration.estimates.items()},
            "correlations": calibration.correlation_details,
            "notes": calibration.notes,
            "thresholds": {
                "min_segment_customers": MIN_SEGMENT_CUSTOMERS,
                "min_churn_segment_customers": MIN_CHURN_SEGMENT_CUSTOMERS,
                "min_churn_segment_events": MIN_CHURN_SEGMENT_EVENTS,
                "min_marginal": MIN_MARGINAL,
                "min_tenure_days": MIN_TENURE_DAYS,
                "acquisition_window_years": ACQUISITION_WINDOW_YEARS,
            },
        }
    )


def sidecar_path(out: str | Path) -> Path:
    """``NEW.toml`` -> ``NEW.calibration.json`` beside it."""
    p = Path(out)
    return p.with_name(p.stem + ".calibration.json")


def _ours(path: Path) -> bool:
    """True when ``path`` is a file that ``calibrate`` wrote (its marker line, or its JSON key)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    if path.suffix == ".json":
        return b'"written_by": "valuecapture calibrate' in head
    return head.startswith(MARKER.encode())


def check_targets(out: str | Path, overwrite: bool) -> tuple[Path, Path]:
    """The scenario file and its sidecar, refused (:class:`OutputFileError`) when they cannot be
    written without losing anything: not a ``.toml`` name, a link or a folder in the way, an
    existing file without ``overwrite``, or an existing file that ``calibrate`` did not write."""
    text = str(out)
    if not text.strip() or any(ord(c) < 32 for c in text):
        raise OutputFileError(f"--out {text!r}: must be a file name ending in .toml")
    toml_path = Path(out)
    if toml_path.suffix.lower() != ".toml":
        raise OutputFileError(f"--out {text}: must end in .toml (the calibrated scenario)")
    paths = (toml_path, sidecar_path(toml_path))
    for p in paths:
        if p.is_symlink():
            raise OutputFileError(f"{p}: is a link; valuecapture does not write through links (choose another --out)")
        if p.exists() and not p.is_file():
            raise OutputFileError(f"{p}: exists and is not a file; choose another --out")
        if p.parent.exists() and not p.parent.is_dir():
            raise OutputFileError(f"{p.parent}: exists and is not a folder")
    for p in paths:
        if p.exists():
            if not overwrite:
                raise OutputFileError(f"{p}: exists; add --overwrite to replace it, or choose another --out")
            if not _ours(p):
                raise OutputFileError(
                    f"{p}: exists and was not written by valuecapture calibrate; it is never replaced: move it or "
                    "choose another --out"
                )
    return paths


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_files(out: str | Path, toml_text: str, meta: dict[str, Any], overwrite: bool = False) -> tuple[Path, Path]:
    """Write the scenario and its sidecar atomically (each built in a hidden file beside its target,
    flushed, then renamed into place; the sidecar first).  Returns both paths."""
    toml_path, json_path = check_targets(out, overwrite)
    toml_path.parent.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in ((json_path, json.dumps(meta, indent=1) + "\n"), (toml_path, toml_text)):
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.partial-", dir=target.parent)
            staged.append((Path(tmp), target))
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        check_targets(out, overwrite)  # still ours to replace
        for tmp_path, target in staged:
            os.replace(tmp_path, target)
    finally:
        for tmp_path, _ in staged:
            if tmp_path.exists():
                tmp_path.unlink()
    return toml_path, json_path


@dataclass(frozen=True)
class Result:
    """What :func:`calibrate` produced."""

    scenario: Scenario
    calibration: Calibration
    toml: str
    sidecar: dict[str, Any]
    paths: tuple[Path, Path] | None
    #: what :func:`rebuild` needs to write the scenario again from a changed calibration
    parts: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def rebuild(result: Result, calibration: Calibration) -> Result:
    """``result`` with ``calibration`` instead of its own (e.g. the churn matched to the simulated
    survival): the scenario built, rendered and loaded back again; nothing written."""
    k = result.parts
    scenario = calibrated_scenario(k["base"], calibration, k["name"], k["description"], k["customers"])
    text = render(scenario, calibration, k["header"])
    reloaded = loads(text, source=k["source"])
    return Result(reloaded, calibration, text, sidecar(reloaded, calibration, k["base_source"]), None, k)


def with_churn_factor(calibration: Calibration, factor: float, match: dict[str, Any]) -> Calibration:
    """The calibration with the churn distribution's ``b`` multiplied by ``factor`` (its standard
    error, and its row and column of the covariance, too: ``factor`` taken as known) and ``match``
    (how it was found, the fit achieved) in the churn estimate's details, statistic and the notes."""
    e = calibration.estimates["uncertainties.churn"]
    a, b = float(e.details["pooled"]["a"]), float(e.details["pooled"]["b"])
    jac = np.diag([1.0, factor])
    cov = jac @ np.asarray(e.details["pooled"]["cov"], dtype=float) @ jac
    value = {"dist": "beta", "a": rounded(a), "b": rounded(b * factor)}
    se = {"a": e.se["a"], "b": e.se["b"] * factor}
    details = {**e.details, "cov": cov, "survival_match": match}
    method = e.method + f"; b x {factor:.4g} so that the simulated survival matches the data's ({match['moment']})"
    statistic = e.statistic + "; " + match["summary"]
    churn = Estimate(e.path, value, se, method, statistic, details)
    notes = [n for n in calibration.notes if not n.startswith("churn: the data give realised churn")]
    notes.append("churn: " + match["note"])
    return Calibration(
        {**calibration.estimates, e.path: churn},
        calibration.correlations,
        calibration.correlation_details,
        notes,
        calibration.data,
        calibration.samples,
    )


def _name_for(out: str | Path | None) -> str:
    stem = Path(out).stem if out is not None else "calibrated"
    return stem if is_safe_name(stem) else "calibrated"


def calibrate(
    data: str | Path,
    panel: str | Path | None = None,
    base: str | Path | Scenario | None = None,
    as_of: str | date | None = None,
    columns: Mapping[str, str] | list[str] | None = None,
    mapping: str | Path | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    write: bool = True,
    bootstrap: int = 200,
    source: bool = False,
) -> Result:
    """``valuecapture calibrate`` as a function: read, estimate, build the scenario, check it loads,
    and (with ``out`` and ``write``) write ``out`` and its sidecar ``<stem>.calibration.json``.

    ``columns``: our name -> the file's (or ``["ours=theirs", ...]`` as on the command line), on
    top of ``mapping`` (a TOML file with ``[columns]`` and ``[panel]``).  ``base``: a scenario file
    or object (default: the documented defaults).  ``source``: the scenario starts from the actual
    customers (``[customers] source`` = ``data`` relative to ``out``'s folder, which must hold it;
    ``as_of`` and ``columns`` as read).  Raises :class:`DataError`,
    :class:`~valuecapture.scenario.load.ScenarioError` (the base) or :class:`OutputFileError`."""
    if out is not None and write:
        check_targets(out, overwrite)  # before any work
    if source and out is None:
        raise OutputFileError("--source needs --out (the source is written relative to its folder)")
    source_text = source_entry(data, out) if source and out is not None else None
    table_map, panel_map = read_mapping(mapping) if mapping is not None else ({}, {})
    given = parse_column_options(columns) if isinstance(columns, list) else dict(columns or {})
    table_map = {**table_map, **given}
    panel_map = {**table_map, **panel_map, **given}
    if isinstance(base, Scenario):
        base_sc, base_source = base, base.source
    elif base is not None:
        base_sc, base_source = load_scenario(base), str(base)
    else:
        base_sc, base_source = default_base(), "the documented defaults (docs/scenarios.md)"
    table, pan = read_data(data, panel, table_map, panel_map, as_of)
    cal = estimate(table, pan, base_sc, bootstrap=bootstrap)
    name = _name_for(out)
    description = (
        f"Calibrated from {Path(str(data)).name} ({table.n} customers, {cal.data['active']} active as of "
        f"{table.as_of}) on the base {base_source}."
    )
    customers = None
    if source_text is not None:
        customers = {
            "source": source_text,
            "as_of": str(table.as_of),
            "columns": ", ".join(f"{k}={v}" for k, v in table_map.items()),
        }
    scenario = calibrated_scenario(base_sc, cal, name, description, customers)
    header = [
        f"# from {data} (sha256 {table.source.sha256[:16]}..., {table.source.rows} rows) as of {table.as_of}"
        + (" (--as-of)" if table.as_of_given else " (the latest date in the data)"),
    ]
    if pan is not None:
        header.append(f"# panel {panel} (sha256 {pan.source.sha256[:16]}..., {pan.source.rows} rows, by {pan.unit})")
    if source_text is not None:
        header.append(
            f"# [customers] source = {source_text!r}: the {cal.data['active']} customers active as of "
            f"{table.as_of} are the customers at t = 0"
        )
    header += [
        f"# base: {base_source}: its business models, policy, economics and dynamics are kept",
        "# where the data say nothing. The complete scenario follows (defaults filled in). An estimated",
        "# field has a comment above it: the estimate, its standard error, the method and a fit statistic; "
        + (f"the same in {sidecar_path(out).name}." if out is not None else "the same in the sidecar JSON."),
        "# What these data cannot identify (e.g. trust's effect on churn) stays as in the base: docs/calibration.md.",
    ]
    text = render(scenario, cal, header)
    reloaded = loads(text, source=str(out) if out is not None else "<calibrated>")
    meta = sidecar(reloaded, cal, base_source)
    paths = write_files(out, text, meta, overwrite) if out is not None and write else None
    parts = {
        "base": base_sc,
        "name": name,
        "description": description,
        "customers": customers,
        "header": header,
        "source": str(out) if out is not None else "<calibrated>",
        "base_source": base_source,
    }
    return Result(reloaded, cal, text, meta, paths, parts)
