"""A synthetic customer table and revenue panel drawn from known parameters.

For tests that check the estimators recover what they were given, for the example data set in
``examples/data/``, and for teaching.  The draws follow the engine's model (docs/model.md):
a customer's annual churn probability ``p ~ Beta(a, b)`` with survival ``(1 - p)^dt`` per period
and losses at the end of a period; wallet, net price and cost to serve from lognormal, lognormal
and gamma marginals joined by a Gaussian copula; log demand shocks from the three-level AR(1)
(market, segment, customer) per period; wallet growth ``(1 + g)^t`` with ``g`` normal.
Revenue of a period is ``wallet dt exp(x - V/2) (1 + g)^t share_of_wallet price``, where the
wallet is that at ``as_of`` (growth runs backwards from there), COGS ``revenue cogs_ratio /
price`` and cost to serve ``revenue cost_to_serve cost_factor``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats


@dataclass(frozen=True)
class Truth:
    """The parameters a synthetic firm is drawn from (annual rates; ``persistence`` per period)."""

    customers: int = 2000
    years: int = 8  # acquisitions spread over this many years before as_of
    as_of: str = "2024-12-31"
    periods_per_year: int = 4
    churn_a: float = 1.2
    churn_b: float = 8.0
    wallet_s: float = 1.1
    wallet_scale: float = 150_000.0
    price_s: float = 0.08
    price_scale: float = 0.93
    cts_a: float = 4.0
    cts_scale: float = 0.035
    rho_wallet_price: float = -0.4
    rho_wallet_cts: float = -0.25
    segments: tuple[str, ...] = ("machinery", "process", "construction")
    segment_weights: tuple[float, ...] = (0.5, 0.3, 0.2)
    persistence: float = 0.6
    volatility: float = 0.15
    rho_within: float = 0.4
    rho_across: float = 0.1
    growth_loc: float = 0.02
    growth_scale: float = 0.04
    share_of_wallet: float = 0.65
    cogs_ratio: float = 0.6
    cost_factor: float = 1.0
    dso_mean: float = 50.0


def draw(truth: Truth = Truth(), seed: int = 0, panel: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The customer table and (with ``panel``) the yearly revenue panel of a synthetic firm."""
    t = truth
    rng = np.random.default_rng(seed)
    n, ppy = t.customers, t.periods_per_year
    dt = 1.0 / ppy
    day = 365.25 * dt  # days per period
    as_of = np.datetime64(t.as_of, "D")
    n_periods = t.years * ppy
    # acquisitions at period starts, uniform over the window; p ~ Beta; lifetime in periods geometric
    start_period = rng.integers(0, n_periods, n)  # periods before as_of at which each was won
    acquired = as_of - np.round((n_periods - start_period) * day).astype("timedelta64[D]")
    p = rng.beta(t.churn_a, t.churn_b, n)
    q = -np.expm1(dt * np.log1p(-p))  # per-period churn probability
    life = rng.geometric(np.clip(q, 1e-12, 1.0))  # periods until lost (lost at the end of that period)
    lost_at = start_period + life  # period index at whose start the customer is gone
    churned_mask = lost_at <= n_periods
    churned = np.where(
        churned_mask, as_of - np.round((n_periods - lost_at) * day).astype("timedelta64[D]"), np.datetime64("NaT")
    )
    # attributes through a Gaussian copula
    corr = np.array(
        [[1.0, t.rho_wallet_price, t.rho_wallet_cts], [t.rho_wallet_price, 1.0, 0.0], [t.rho_wallet_cts, 0.0, 1.0]]
    )
    z = rng.standard_normal((n, 3)) @ np.linalg.cholesky(corr).T
    wallet = t.wallet_scale * np.exp(t.wallet_s * z[:, 0])
    price = t.price_scale * np.exp(t.price_s * z[:, 1])
    cts = stats.gamma.ppf(np.clip(special.ndtr(z[:, 2]), 1e-12, 1 - 1e-12), t.cts_a, scale=t.cts_scale)
    growth = rng.normal(t.growth_loc, t.growth_scale, n)
    w = np.asarray(t.segment_weights, dtype=float)
    segment = rng.choice(len(t.segments), size=n, p=w / w.sum())
    # demand shocks per period over the whole window, every level stationary from the start
    sd = t.volatility * np.sqrt(dt)
    phi = t.persistence
    stat = 1.0 / np.sqrt(1.0 - phi * phi)
    k = len(t.segments)
    s_m, s_s, s_e = (
        sd * np.sqrt(t.rho_across),
        sd * np.sqrt(t.rho_within - t.rho_across),
        sd * np.sqrt(1 - t.rho_within),
    )
    x = np.empty((n_periods, n))
    market, seg, idio = (
        s_m * stat * rng.standard_normal(),
        s_s * stat * rng.standard_normal(k),
        s_e * stat * rng.standard_normal(n),
    )
    for j in range(n_periods):
        if j:
            market = phi * market + s_m * rng.standard_normal()
            seg = phi * seg + s_s * rng.standard_normal(k)
            idio = phi * idio + s_e * rng.standard_normal(n)
        x[j] = market + seg[segment] + idio
    variance = sd * sd * stat * stat
    years_to = (np.arange(n_periods) + 1 - n_periods) * dt  # end of each period relative to as_of, years (<= 0)
    active_in = (np.arange(n_periods)[:, None] >= start_period[None, :]) & (
        np.arange(n_periods)[:, None] < lost_at[None, :]
    )
    revenue = (
        wallet[None, :]
        * dt
        * np.exp(x - 0.5 * variance)
        * np.power(1.0 + growth[None, :], years_to[:, None])
        * t.share_of_wallet
        * price[None, :]
        * active_in
    )
    last_year = revenue[-ppy:].sum(axis=0)
    active = ~churned_mask
    table = pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "acquired": pd.to_datetime(acquired).strftime("%Y-%m-%d"),
            "churned": pd.Series(pd.to_datetime(churned).strftime("%Y-%m-%d")).fillna("").to_numpy(),
            "segment": np.asarray(t.segments, dtype=object)[segment],
            "revenue": np.where(active, np.round(last_year, 2), np.nan),
            "cogs": np.where(active, np.round(last_year * t.cogs_ratio / price, 2), np.nan),
            "cost_to_serve": np.where(active, np.round(last_year * cts * t.cost_factor, 2), np.nan),
            "net_price": np.round(price, 5),
            "dso_days": np.round(rng.gamma(25.0, t.dso_mean / 25.0, n), 1),
        }
    )
    if not panel:
        return table, None
    calendar_year = (as_of.astype("datetime64[Y]").astype(np.int64) + 1970) - (
        n_periods - 1 - np.arange(n_periods)
    ) // ppy
    years = np.unique(calendar_year)
    per_year = np.stack([revenue[calendar_year == y].sum(axis=0) for y in years])  # years x customers
    cy, ci = np.nonzero(per_year > 0)
    frame = pd.DataFrame(
        {
            "customer_id": table["customer_id"].to_numpy()[ci],
            "year": years[cy],
            "revenue": np.round(per_year[cy, ci], 2),
        }
    )
    return table, frame.sort_values(["customer_id", "year"]).reset_index(drop=True)
