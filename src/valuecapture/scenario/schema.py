"""The scenario schema: every field of a scenario file with its type, default, allowed
range, unit and meaning (:data:`FIELDS`), the fields of the array tables (business
models, correlations, interaction spaces), and the rule for names.

This module is data plus the look-ups on it; :mod:`valuecapture.scenario.load` reads,
checks and freezes a scenario against it, and :mod:`valuecapture.scenario.docs` renders it
as docs/scenarios.md.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from valuecapture.scenario import distributions as dists


@dataclass(frozen=True)
class Field:
    """One scenario field: its type, default, allowed range, unit and meaning."""

    path: str
    type: str  # int | float | bool | str | enum | dist | list[str] | list[float] | matrix | table
    default: Any
    doc: str
    unit: str = "-"
    kind: str = "structure"  # meta | structure | uncertainty | choice | switch | output
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    money: bool = False
    format: str = ""  # text fields: "iso4217" (a currency code) or "date" (an ISO date, or empty)

    def allowed(self) -> str:
        if self.format in FORMATS:
            return FORMATS[self.format]
        if self.type == "enum":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.type == "bool":
            return "true or false"
        if self.type == "dist":
            rng = _range_text(self)
            return (
                "a distribution table (dist = "
                + "|".join(dists.ALLOWED)
                + ")"
                + (f" with support in {rng}" if rng else "")
            )
        if self.type == "name":
            return NAME_RULE
        if self.type == "table":
            return "a table of name = value (numbers, true/false or text)"
        if self.type in ("str", "list[str]"):
            return "text" if self.type == "str" else "a list of distinct names"
        rng = _range_text(self)
        base = {
            "int": "an integer",
            "float": "a number",
            "list[float]": "a list of numbers" + (" (or empty)" if self.default == [] else ""),
            "matrix": "a list of rows, each a list of numbers",
        }[self.type]
        return f"{base} in {rng}" if rng else base


#: What a text field with a ``format`` must hold.
FORMATS = {
    "iso4217": "an ISO 4217 currency code: three upper-case letters such as EUR, USD or CHF",
    "date": "an ISO date YYYY-MM-DD (e.g. 2026-01-01), or empty",
}
CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")


def _range_text(f: Field) -> str:
    if f.lo is None and f.hi is None:
        return ""
    lo = "-inf" if f.lo is None else f"{f.lo:g}"
    hi = "inf" if f.hi is None else f"{f.hi:g}"
    left = "(" if (f.lo_open or f.lo is None) else "["
    right = ")" if (f.hi_open or f.hi is None) else "]"
    return f"{left}{lo}, {hi}{right}"


def _d(**kw: Any) -> dict[str, Any]:
    return kw


MECHANISM_FREE = "-"

#: Names that become folder names (scenario and experiment names): no separators, no
#: control characters, not '.' or '..', so OUT/<name> always stays inside OUT.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NAME_RULE = "a name of 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit"


def is_safe_name(name: object) -> bool:
    """True for a name that can be used as a folder name inside the output folder."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


#: The scenario schema.  Order is the order of docs/scenarios.md.
FIELDS: tuple[Field, ...] = (
    # -- meta -----------------------------------------------------------------
    Field(
        "scenario.name",
        "name",
        "scenario",
        "Short name; results go to results/<name>/ (so it is a folder name: letters, digits, '_', '-', '.').",
        kind="meta",
    ),
    Field("scenario.description", "str", "", "Free text shown in reports.", kind="meta"),
    Field(
        "run.replications",
        "int",
        1000,
        "Monte Carlo replications when the command line does not say.",
        "replications",
        "meta",
        lo=1,
        hi=10_000_000,
    ),
    Field(
        "run.seed",
        "int",
        20261123,
        "Root seed of the run's SeedSequence when the command line does not say.",
        "-",
        "meta",
        lo=0,
        hi=2**63 - 1,
    ),
    # -- structure ------------------------------------------------------------
    Field("horizon.periods", "int", 40, "Number of simulated periods.", "periods", lo=1, hi=2400),
    Field(
        "horizon.periods_per_year", "int", 4, "Periods per year (4 = quarterly, 12 = monthly).", "1/year", lo=1, hi=52
    ),
    Field(
        "horizon.start",
        "str",
        "",
        "Valuation date: the start of the horizon (t = 0), as an ISO date. It only dates the result's time axis "
        "(each period's end, docs/results.md); no number depends on it. Empty: customers.as_of when the customers "
        "come from customers.source, else 2000-01-01.",
        "date",
        "meta",
        format="date",
    ),
    Field(
        "economics.currency",
        "str",
        "EUR",
        "Currency of every money amount of the scenario and its results, as its ISO 4217 code. It names the unit "
        "of money in the result's units, tables and figures; it converts nothing.",
        kind="meta",
        format="iso4217",
    ),
    Field(
        "economics.wacc",
        "float",
        0.09,
        "Weighted average cost of capital: discount rate and capital charge.",
        "1/year",
        lo=0,
        hi=1,
        lo_open=True,
    ),
    Field(
        "economics.tax_rate",
        "float",
        0.25,
        "Tax rate on operating profit (losses give a tax credit).",
        "fraction",
        lo=0,
        hi=1,
        hi_open=True,
    ),
    Field(
        "economics.cogs_ratio",
        "float",
        0.62,
        "Cost of goods sold per unit of volume, as a fraction of list price.",
        "fraction of list price",
        lo=0,
        hi=5,
    ),
    Field(
        "economics.dso_days",
        "float",
        55.0,
        "Days sales outstanding: receivables = annual revenue x DSO/365.",
        "days",
        lo=0,
        hi=365,
    ),
    Field(
        "economics.inventory_days",
        "float",
        30.0,
        "Inventory held for a customer = annual COGS x days/365.",
        "days",
        lo=0,
        hi=365,
    ),
    Field(
        "economics.terminal_value",
        "enum",
        "runoff",
        "Value of relationships alive at the horizon: 'none', or 'runoff' (each continues with its last economic "
        "profit and retention, no new customers; fixed costs shrink with revenue). See docs/model.md.",
        choices=("none", "runoff"),
    ),
    Field("customers.count", "int", 3000, "Customers at the start of the horizon.", "customers", lo=1, hi=10_000_000),
    Field(
        "customers.source",
        "str",
        "",
        "A customer table (CSV or Parquet, docs/data.md), relative to the scenario file's folder and inside it: its "
        "customers active at customers.as_of are the customers at t = 0, with their own attributes, tenure and "
        "segment (docs/calibration.md); customers.count must equal their number. Empty: every customer is drawn.",
        kind="uncertainty",
    ),
    Field(
        "customers.columns",
        "str",
        "",
        "Column mapping of customers.source, as 'ours=theirs' pairs separated by commas (e.g. "
        "'acquired=StartDate, churned=EndDate'); empty: the file uses our names.",
        kind="uncertainty",
    ),
    Field(
        "customers.as_of",
        "str",
        "",
        "End of observation of customers.source (an ISO date); empty: the latest date in the file.",
        kind="uncertainty",
    ),
    Field(
        "customers.max_slots",
        "int",
        0,
        "Customer slots (initial + acquired) per replication, rounded up to a multiple of 512; 0 = automatic "
        "headroom. Acquisitions beyond it are counted in 'slots_exhausted'.",
        "customers",
        lo=0,
        hi=50_000_000,
    ),
    Field(
        "customers.segments",
        "list[str]",
        ["industry"],
        "Names of industries/segments (demand shocks are shared within a segment).",
    ),
    Field(
        "customers.segment_weights",
        "list[float]",
        [1.0],
        "Relative share of customers in each segment (same length as segments).",
        "weight",
        lo=0,
    ),
    # -- uncertainties: customer attributes ----------------------------------
    Field(
        "uncertainties.wallet",
        "dist",
        _d(dist="lognorm", s=1.2, scale=120_000.0),
        "Customer's annual purchases of the category at list price (size of wallet).",
        "currency/year",
        "uncertainty",
        lo=0,
        money=True,
    ),
    Field(
        "uncertainties.price",
        "dist",
        _d(dist="lognorm", s=0.08, scale=0.95),
        "Net price realised, as a fraction of list price.",
        "fraction of list price",
        "uncertainty",
        lo=0,
    ),
    Field(
        "uncertainties.cost_to_serve",
        "dist",
        _d(dist="gamma", a=4.0, scale=0.04),
        "Cost to serve (logistics, sales, support, customisation) as a fraction of revenue.",
        "fraction of revenue",
        "uncertainty",
        lo=0,
    ),
    Field(
        "uncertainties.growth",
        "dist",
        _d(dist="norm", loc=0.02, scale=0.04),
        "Annual growth rate of the customer's wallet (values below -0.99 are clipped).",
        "1/year",
        "uncertainty",
    ),
    Field(
        "uncertainties.churn",
        "dist",
        _d(dist="beta", a=2.0, b=18.0),
        "Annual churn probability of the customer at reference trust (0.5) with no contagion (shifted-beta-geometric "
        "heterogeneity).",
        "probability/year",
        "uncertainty",
        lo=0,
        hi=1,
    ),
    # -- uncertainties: relationship initial state ----------------------------
    Field(
        "uncertainties.initial_trust",
        "dist",
        _d(dist="beta", a=6.0, b=4.0),
        "Trust (relationship quality) of relationships existing at the start.",
        "index 0-1",
        "uncertainty",
        lo=0,
        hi=1,
    ),
    Field(
        "uncertainties.initial_adaptation",
        "dist",
        _d(dist="beta", a=2.0, b=5.0),
        "Adaptation (relationship-specific investment) of relationships existing at the start.",
        "index 0-1",
        "uncertainty",
        lo=0,
        hi=1,
    ),
    Field(
        "uncertainties.initial_age",
        "dist",
        _d(dist="gamma", a=2.0, scale=2.5),
        "Age of relationships existing at the start.",
        "years",
        "uncertainty",
        lo=0,
    ),
    # -- demand ---------------------------------------------------------------
    Field(
        "demand.volatility",
        "float",
        0.15,
        "Innovation volatility of log demand: each period's innovation has sd volatility x sqrt(1/periods_per_year); "
        "with persistence phi the stationary sd of log demand is that / sqrt(1 - phi^2).",
        "1/sqrt(year)",
        lo=0,
        hi=3,
    ),
    Field(
        "demand.persistence",
        "float",
        0.6,
        "Quarter-to-quarter (per period) persistence of log demand shocks (AR(1) coefficient).",
        "-",
        lo=0,
        hi=1,
        hi_open=True,
    ),
    Field(
        "demand.rho_within",
        "float",
        0.4,
        "Correlation of demand shocks of two customers in the same segment (one-factor model).",
        "correlation",
        lo=0,
        hi=1,
    ),
    Field(
        "demand.rho_across",
        "float",
        0.1,
        "Correlation of demand shocks of two customers in different segments; must not exceed rho_within.",
        "correlation",
        lo=0,
        hi=1,
    ),
    # -- relationship dynamics -------------------------------------------------
    Field(
        "relationship.trust_up",
        "float",
        0.10,
        "Speed at which trust rises toward experienced quality (kappa+), per period.",
        "1/period",
        lo=0,
        hi=1,
    ),
    Field(
        "relationship.trust_down",
        "float",
        0.20,
        "Speed at which trust falls toward experienced quality (kappa-), per period; about 2x trust_up (assumed).",
        "1/period",
        lo=0,
        hi=1,
    ),
    Field(
        "relationship.quality_noise",
        "float",
        0.10,
        "Standard deviation of period-to-period noise in experienced quality.",
        "index 0-1",
        lo=0,
        hi=1,
    ),
    Field(
        "relationship.sow_intercept",
        "float",
        -1.0,
        "Share of wallet = logistic(intercept + trust_effect x trust + adaptation_effect x adaptation).",
        "logit",
        lo=-20,
        hi=20,
    ),
    Field(
        "relationship.sow_trust",
        "float",
        2.5,
        "Effect of trust on the logit of share of wallet.",
        "logit/index",
        lo=-20,
        hi=20,
    ),
    Field(
        "relationship.sow_adaptation",
        "float",
        1.0,
        "Effect of adaptation on the logit of share of wallet.",
        "logit/index",
        lo=-20,
        hi=20,
    ),
    Field(
        "relationship.adaptation_rate",
        "float",
        0.05,
        "Speed at which adaptation moves toward the business model's adaptation level, per period.",
        "1/period",
        lo=0,
        hi=1,
    ),
    Field(
        "relationship.adaptation_quality",
        "float",
        0.15,
        "Experienced-quality gain per unit of adaptation.",
        "index/index",
        lo=0,
        hi=1,
    ),
    Field(
        "relationship.adaptation_cost",
        "float",
        0.30,
        "Relative increase of cost to serve per unit of adaptation.",
        "fraction/index",
        lo=0,
        hi=5,
    ),
    Field(
        "relationship.dedicated_assets",
        "float",
        0.10,
        "Relationship-dedicated assets per unit of adaptation, as a fraction of annual revenue.",
        "fraction of revenue",
        lo=0,
        hi=5,
    ),
    Field("relationship.new_trust", "float", 0.45, "Trust of a newly acquired relationship.", "index 0-1", lo=0, hi=1),
    Field(
        "relationship.churn_trust_effect",
        "float",
        -2.0,
        "Effect of (trust - 0.5) on the complementary log-log churn hazard.",
        "log-hazard/index",
        lo=-20,
        hi=20,
    ),
    # -- interdependence -------------------------------------------------------
    Field(
        "network.generator",
        "enum",
        "segment_clusters",
        "Generator of the network among customers: 'none'; 'random' (Erdos-Renyi-like); 'segment_clusters' (a "
        "stochastic block model: most ties inside a segment); 'small_world' (Watts-Strogatz); 'barabasi_albert' "
        "(scale-free, via networkx, slower).",
        choices=("none", "random", "segment_clusters", "small_world", "barabasi_albert"),
    ),
    Field("network.mean_degree", "float", 4.0, "Mean number of neighbours per customer slot.", "ties", lo=0, hi=200),
    Field(
        "network.within_segment",
        "float",
        0.8,
        "Share of ties inside the own segment ('segment_clusters').",
        "fraction",
        lo=0,
        hi=1,
    ),
    Field("network.rewire", "float", 0.1, "Rewiring probability ('small_world').", "probability", lo=0, hi=1),
    Field(
        "contagion.multiplier",
        "float",
        1.8,
        "Factor on the churn hazard per recently defected neighbour (Nitzan & Libai 2011: about 1.8, an upper bound "
        "for B2B).",
        "factor",
        lo=1,
        hi=20,
    ),
    Field(
        "contagion.decay",
        "float",
        0.5,
        "Per-period decay of a defection's contagion effect.",
        "factor/period",
        lo=0,
        hi=1,
        hi_open=True,
    ),
    Field(
        "acquisition.prospects_per_year",
        "float",
        300.0,
        "Mean number of customers won by prospecting per year (Poisson).",
        "customers/year",
        lo=0,
        hi=1e7,
    ),
    Field(
        "acquisition.acquisition_cost",
        "float",
        15_000.0,
        "Cost of winning a customer by prospecting.",
        "currency/customer",
        lo=0,
        money=True,
    ),
    Field(
        "acquisition.referral_rate",
        "float",
        0.04,
        "Probability per year that an active customer with trust 1 brings a new customer (proportional to trust).",
        "1/year",
        lo=0,
        hi=4,
    ),
    Field(
        "acquisition.referral_cost_factor",
        "float",
        0.3,
        "Cost of a referred customer as a fraction of acquisition_cost.",
        "fraction",
        lo=0,
        hi=5,
    ),
    Field(
        "acquisition.referral_churn_multiplier",
        "float",
        0.7,
        "Factor on the (cumulative) churn hazard of referred customers; assumed (Villanueva et al. 2008 found "
        "word-of-mouth customers worth about 2x marketing-acquired ones, partly through retention).",
        "factor",
        lo=0,
        hi=10,
        lo_open=True,
    ),
    # -- switches ---------------------------------------------------------------
    Field(
        "heterogeneity.customer",
        "bool",
        True,
        "Customer heterogeneity: when false every customer gets the mean of each attribute distribution (segments "
        "kept).",
        kind="switch",
    ),
    Field(
        "heterogeneity.relationship",
        "bool",
        True,
        "Relationship heterogeneity: when false initial trust, adaptation and age are their means and quality noise "
        "is zero.",
        kind="switch",
    ),
    Field(
        "heterogeneity.interdependence",
        "bool",
        True,
        "Interdependence: when false no network contagion, no referrals, and demand shocks are idiosyncratic (same "
        "variance).",
        kind="switch",
    ),
    # -- choices ----------------------------------------------------------------
    Field(
        "choices.policy",
        "str",
        "single",
        "Business-model policy, by registered name (see `valuecapture policies`).",
        kind="choice",
    ),
    Field(
        "choices.policy_parameters",
        "table",
        {},
        "Parameters of the policy (its keyword arguments, see `valuecapture policies`), e.g. { top_share = 0.2 }; "
        "checked against the policy's signature. Also written as [choices.policy] with name = ... and the "
        "parameters.",
        kind="choice",
    ),
    Field(
        "choices.fixed_cost",
        "float",
        2_000_000.0,
        "Firm-level fixed cost not attributable to a business model.",
        "currency/year",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "business.fit_cost",
        "float",
        0.3,
        "Cost-to-serve penalty of internal misfit: cost to serve x (1 + fit_cost x (1 - fit)); assumed.",
        "fraction",
        lo=0,
        hi=5,
    ),
    Field(
        "business.fit_quality",
        "float",
        0.2,
        "Quality penalty of internal misfit: quality x (1 - fit_quality x (1 - fit)); assumed.",
        "fraction",
        lo=0,
        hi=1,
    ),
    Field(
        "business.complexity_cost",
        "float",
        400_000.0,
        "C1 of the complexity cost C1 x K^b a year of running K > 1 business models in parallel.",
        "currency/year",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "business.complexity_exponent",
        "float",
        0.35,
        "b of the complexity cost (0.26-0.43: +20-35% per doubling; assumed).",
        "-",
        lo=0,
        hi=3,
    ),
    Field(
        "capabilities.insight_level",
        "float",
        0.5,
        "Customer insight: 1 = the firm sees each relationship's true, current economic profit; 0 = with "
        "insight_noise and insight_lag.",
        "index 0-1",
        "choice",
        lo=0,
        hi=1,
    ),
    Field(
        "capabilities.insight_cost",
        "float",
        600_000.0,
        "Yearly cost of customer insight at level 1 (proportional to the level).",
        "currency/year",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "capabilities.insight_noise",
        "float",
        0.6,
        "Relative error (sd) of observed relationship profit at insight level 0 (scaled by 1 - level).",
        "fraction",
        lo=0,
        hi=5,
    ),
    Field(
        "capabilities.insight_lag",
        "int",
        4,
        "Delay in periods of observed profit at insight level 0 (scaled by 1 - level, rounded).",
        "periods",
        lo=0,
        hi=40,
    ),
    Field(
        "capabilities.account_managers",
        "int",
        0,
        "Account managers; each can hold accounts_per_manager relationships of business models with "
        "account_management >= 0.5.",
        "managers",
        "choice",
        lo=0,
        hi=1_000_000,
    ),
    Field(
        "capabilities.accounts_per_manager",
        "int",
        25,
        "Relationships one account manager can hold.",
        "customers/manager",
        lo=1,
        hi=10_000,
    ),
    Field(
        "capabilities.manager_cost",
        "float",
        150_000.0,
        "Yearly cost of one account manager.",
        "currency/year",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "capabilities.platform_level",
        "float",
        0.0,
        "Modular production platform: reduces adaptation cost and complexity cost by platform_effect x level.",
        "index 0-1",
        "choice",
        lo=0,
        hi=1,
    ),
    Field(
        "capabilities.platform_cost",
        "float",
        1_000_000.0,
        "Yearly cost of the modular platform at level 1 (proportional to the level).",
        "currency/year",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "capabilities.platform_effect",
        "float",
        0.5,
        "Largest relative reduction of adaptation and complexity cost from the platform; assumed.",
        "fraction",
        lo=0,
        hi=1,
    ),
    Field(
        "capabilities.review_interval",
        "int",
        0,
        "Relationship performance control: periods between reviews at which the policy reassigns business models; 0 = "
        "once a year.",
        "periods",
        "choice",
        lo=0,
        hi=400,
    ),
    Field(
        "capabilities.review_cost",
        "float",
        0.0,
        "Cost of one portfolio review (performance measurement and reassignment).",
        "currency/review",
        "choice",
        lo=0,
        money=True,
    ),
    # -- two-sided portfolios: alignment (MODEL.md §4; every parameter assumed) ---
    Field(
        "alignment.enabled",
        "bool",
        False,
        "Simulate the customer's view of the supplier, misalignment and its effects, interaction spaces and "
        "legitimacy (docs/alignment.md). Off: none of it runs.",
        kind="switch",
    ),
    Field(
        "alignment.kraljic_levels",
        "list[float]",
        [1.0, 0.33, 0.67, 0.0],
        "Treatment intensity the customer expects from a supplier it classes strategic, leverage, bottleneck, routine "
        "(Kraljic); compared with the firm's treatment.",
        "index 0-1",
        lo=0,
        hi=1,
    ),
    Field(
        "alignment.trust_effect",
        "float",
        1.0,
        "Trust gain is trust_up x (1 - trust_effect x misalignment).",
        "index",
        lo=0,
        hi=1,
    ),
    Field(
        "alignment.churn_effect",
        "float",
        1.0,
        "Churn hazard x exp(churn_effect x misalignment).",
        "log-hazard/index",
        lo=0,
        hi=10,
    ),
    Field(
        "alignment.sow_effect",
        "float",
        1.0,
        "Share-of-wallet logit - sow_effect x misalignment.",
        "logit/index",
        lo=0,
        hi=20,
    ),
    Field(
        "alignment.waste",
        "float",
        0.5,
        "Over-serving waste: service cost x (1 + waste x max(treatment - customer's expectation, 0)).",
        "fraction",
        lo=0,
        hi=5,
    ),
    Field(
        "alignment.reassess",
        "float",
        0.05,
        "Rate at which the customer's perceived supply risk reverts to its structural level, per period.",
        "1/period",
        lo=0,
        hi=1,
    ),
    Field(
        "alignment.view_noise",
        "float",
        0.05,
        "Standard deviation of the per-period drift of the customer's perceived supply risk.",
        "index 0-1",
        lo=0,
        hi=1,
    ),
    Field(
        "alignment.aligned_below",
        "float",
        0.25,
        "A relationship counts as aligned when its misalignment is below this.",
        "index 0-1",
        lo=0,
        hi=1,
        lo_open=True,
    ),
    Field(
        "alignment.downgrade_trust_loss",
        "float",
        0.15,
        "Trust lost when the firm moves a relationship to a leaner business model, per unit of treatment lost.",
        "index",
        lo=0,
        hi=1,
    ),
    Field(
        "alignment.legitimacy",
        "float",
        0.7,
        "Share of the downgrade trust loss avoided when the downgrade is explained (the relationship took part in an "
        "interaction space within legitimacy_window periods).",
        "fraction",
        lo=0,
        hi=1,
    ),
    Field(
        "alignment.legitimacy_window",
        "int",
        4,
        "Periods after an interaction-space contact during which a downgrade counts as explained and the firm knows "
        "the customer's view.",
        "periods",
        lo=0,
        hi=400,
    ),
    Field(
        "alignment.internal",
        "bool",
        False,
        "Also model internal misalignment: sales' view (class under sales_model) vs operations' treatment (the "
        "business model).",
        kind="switch",
    ),
    Field(
        "alignment.sales_model",
        "str",
        "shapiro",
        "Portfolio model behind sales' view when alignment.internal is on (see `portfolio.models`).",
    ),
    Field(
        "alignment.internal_cost",
        "float",
        0.1,
        "Cost-to-serve increase per unit of internal misalignment (coordination friction).",
        "fraction",
        lo=0,
        hi=5,
    ),
    Field(
        "parameter_uncertainty.enabled",
        "bool",
        False,
        "Carry the estimation uncertainty of the [[estimates]] into the run: each group of "
        "parameter_uncertainty.per_draw replications draws its own values of the estimated distribution "
        "parameters from their sampling distribution (docs/calibration.md); off: every replication uses the "
        "scenario's values.",
        kind="switch",
    ),
    Field(
        "parameter_uncertainty.per_draw",
        "int",
        2,
        "Replications that share one parameter draw. With 2 or more the summary splits the variance of firm value "
        "into parameter uncertainty and stochastic variation without bias (one-way random-effects ANOVA).",
        "replications",
        lo=1,
        hi=10_000,
    ),
    Field(
        "portfolio.track",
        "bool",
        False,
        "Record, every period, class shares of each portfolio model in portfolio.models and class-to-class "
        "transitions.",
        kind="output",
    ),
    Field(
        "portfolio.models",
        "list[str]",
        ["shapiro", "krapfel", "turnbull", "fiocca", "campbell", "kraljic"],
        "Portfolio models to track (built-ins: shapiro, krapfel, turnbull, fiocca, campbell, kraljic; kraljic needs "
        "alignment.enabled).",
        kind="output",
    ),
    # -- relationship stages (docs/model.md, "Relationship stages") ------------------
    Field(
        "stages.enabled",
        "bool",
        False,
        "Give every relationship a stage of a Markov chain of relationship development (Dwyer, Schurr & Oh 1987; "
        "Pfeifer & Carraway 2000) with its own margin, cost to serve and churn; results get stage shares and "
        "transition counts. Off: none of it runs.",
        kind="switch",
    ),
    Field(
        "stages.names",
        "list[str]",
        ["exploration", "expansion", "commitment", "dissolution"],
        "The stages, in order (2 to 32). New customers start in the first.",
    ),
    Field(
        "stages.transitions",
        "matrix",
        [
            [0.70, 0.20, 0.00, 0.05, 0.05],
            [0.05, 0.75, 0.15, 0.05, 0.00],
            [0.00, 0.03, 0.94, 0.03, 0.00],
            [0.00, 0.05, 0.00, 0.55, 0.40],
        ],
        "One row per stage: the probabilities of being in each stage next period and, in an optional last column, "
        "of the relationship ending (the customer is lost). Each row sums to 1. Drawn at the end of each period "
        "for the relationships still active.",
        "probability/period",
        lo=0,
        hi=1,
    ),
    Field(
        "stages.initial",
        "list[float]",
        [],
        "Weights of the stages among the initial customers, one per stage (normalised); empty: all in the first.",
        "weight",
        lo=0,
    ),
    Field(
        "stages.margin_factor",
        "list[float]",
        [],
        "Per stage: factor on the relationship's economic profit per unit of volume (its margin after cost of "
        "goods, cost to serve and capital charge); empty: 1.",
        "factor",
        lo=0,
        hi=100,
    ),
    Field(
        "stages.margin",
        "list[float]",
        [],
        "Per stage: economic profit per relationship and year added in the stage, before tax (negative: a cost); "
        "empty: 0.",
        "currency/year",
        money=True,
    ),
    Field(
        "stages.cost_to_serve_factor",
        "list[float]",
        [],
        "Per stage: factor on the relationship's cost to serve; empty: 1.",
        "factor",
        lo=0,
        hi=100,
    ),
    Field(
        "stages.churn_multiplier",
        "list[float]",
        [],
        "Per stage: factor on the churn hazard's rate (proportional hazards: h = 1 - (1 - h0)^multiplier); empty: 1.",
        "factor",
        lo=0,
        hi=100,
    ),
    Field(
        "stages.closeness",
        "list[float]",
        [],
        "Per stage: how close the relationship is (0 to 1), the direction the shifts push it; the end column counts "
        "0. Empty: evenly spaced from 0 (first stage) to 1 (last).",
        "index 0-1",
        lo=0,
        hi=1,
    ),
    Field(
        "stages.trust_shift",
        "float",
        0.0,
        "Shift of the transitions per unit of trust above 0.5: entry (i, j) is multiplied by exp(x closeness_j) "
        "and the row renormalised, x = trust_shift (T - 0.5) + adaptation_shift A + model_shift[business model].",
        "logit/index",
        lo=-50,
        hi=50,
    ),
    Field(
        "stages.adaptation_shift",
        "float",
        0.0,
        "Shift of the transitions per unit of adaptation (see stages.trust_shift).",
        "logit/index",
        lo=-50,
        hi=50,
    ),
    Field(
        "stages.model_shift",
        "table",
        {},
        "Shift of the transitions by the business model serving the relationship: business-model name = shift "
        "(models not named: 0; see stages.trust_shift).",
        "logit",
    ),
    # -- outputs ------------------------------------------------------------------
    Field(
        "outputs.relationship_detail",
        "int",
        50,
        "Number of replications (the first ones) whose per-relationship detail (value capture, wallet, price, cost "
        "to serve...) is kept in the result (detail_replication x customer), at about 14 bytes per relationship on "
        "disk: 50 replications of 10,000 customers take about 11 MB (docs/results.md). Per-replication summaries "
        "(Stobachoff, Gini, top-20% share) are kept for all.",
        "replications",
        "output",
        lo=0,
        hi=1_000_000,
    ),
    Field(
        "outputs.revenue_panel",
        "bool",
        False,
        "Also keep, for the outputs.relationship_detail replications, each relationship's revenue per year of the "
        "horizon (detail_replication x customer x horizon_year), each initial customer's age at the start and "
        "whether each relationship is active at the horizon: what `valuecapture export-customers` needs to write "
        "the simulated firm as a customer table and revenue panel (docs/data.md).",
        kind="output",
    ),
    Field(
        "outputs.network",
        "bool",
        False,
        "Also keep, for the outputs.relationship_detail replications, the customer network's ties among the "
        "customers ever acquired (tie_first, tie_second: customer slots; detail_replication x tie, padded with -1). "
        "Summaries of the network (degrees, clustering, ties within segment) are kept for every replication "
        "either way (docs/model.md, 'The customer network as an output').",
        kind="output",
    ),
)

#: Fields of one ``[[choices.business_models]]`` entry.
BUSINESS_MODEL_FIELDS: tuple[Field, ...] = (
    Field("name", "str", "standard", "Name of the business model.", kind="choice"),
    Field(
        "quality",
        "float",
        0.65,
        "Service level: quality the business model delivers (experienced quality before adaptation, fit penalty and "
        "noise).",
        "index 0-1",
        "choice",
        lo=0,
        hi=1,
    ),
    Field(
        "adaptation",
        "float",
        0.3,
        "Offering adaptation: level relationships served by this model move toward.",
        "index 0-1",
        "choice",
        lo=0,
        hi=1,
    ),
    Field(
        "service_cost",
        "float",
        4_000.0,
        "Account-management and service cost per relationship (allocated business-model cost).",
        "currency/year/customer",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "price_factor",
        "float",
        1.0,
        "Price level: factor on the customer's net price under this business model.",
        "factor",
        "choice",
        lo=0,
        hi=5,
        lo_open=True,
    ),
    Field(
        "cost_to_serve_factor",
        "float",
        1.0,
        "Factor on the customer's cost to serve under this business model (before the fit penalty).",
        "factor",
        "choice",
        lo=0,
        hi=5,
    ),
    Field(
        "channel",
        "enum",
        "inside_sales",
        "Channel: key_account_team, field_sales, inside_sales, distributor or e_channel.",
        kind="choice",
        choices=("key_account_team", "field_sales", "inside_sales", "distributor", "e_channel"),
    ),
    Field(
        "account_management",
        "float",
        0.3,
        "Account-management intensity; at 0.5 or more each relationship needs a dedicated account manager "
        "(capabilities.account_managers).",
        "index 0-1",
        "choice",
        lo=0,
        hi=1,
    ),
    Field(
        "capital_intensity",
        "float",
        0.1,
        "Business-model-dedicated invested capital, as a fraction of annual revenue.",
        "fraction of revenue",
        "choice",
        lo=0,
        hi=2,
    ),
    Field(
        "platform",
        "enum",
        "modular",
        "Production platform: standard, modular or dedicated.",
        kind="choice",
        choices=("standard", "modular", "dedicated"),
    ),
    Field(
        "fixed_cost",
        "float",
        500_000.0,
        "Fixed cost of running this business model (charged in periods when it serves a customer).",
        "currency/year",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "setup_cost",
        "float",
        0.0,
        "One-off cost when the business model first serves a customer.",
        "currency",
        "choice",
        lo=0,
        money=True,
    ),
    Field(
        "switching_cost",
        "float",
        0.0,
        "One-off cost per relationship moved into this business model from another.",
        "currency/customer",
        "choice",
        lo=0,
        money=True,
    ),
)

#: Fields of one ``[[correlations]]`` entry (Gaussian copula of customer attributes).
CORRELATED = ("wallet", "price", "cost_to_serve", "growth", "churn", "segment")
CORRELATION_FIELDS: tuple[Field, ...] = (
    Field(
        "between",
        "list[str]",
        ["wallet", "price"],
        "Two customer attributes: " + ", ".join(CORRELATED) + ".",
        kind="uncertainty",
    ),
    Field(
        "rho",
        "float",
        0.0,
        "Correlation of their normal scores in the Gaussian copula.",
        "correlation",
        "uncertainty",
        lo=-1,
        hi=1,
        lo_open=True,
        hi_open=True,
    ),
)

#: Fields of one ``[[interactions]]`` entry (an interaction space, MODEL.md §4).
INTERACTION_FIELDS: tuple[Field, ...] = (
    Field(
        "name",
        "str",
        "account_review",
        "Name of the interaction space (e.g. account_review, joint_planning, executive_meeting).",
        kind="choice",
    ),
    Field(
        "cadence",
        "int",
        4,
        "Periods between occurrences (first in period `cadence`).",
        "periods",
        "choice",
        lo=1,
        hi=400,
    ),
    Field(
        "cost_per_contact",
        "float",
        2_000.0,
        "Cost of one relationship taking part once.",
        "currency/contact",
        "choice",
        lo=0,
        money=True,
    ),
    Field("fixed_cost", "float", 0.0, "Yearly cost of running the space.", "currency/year", "choice", lo=0, money=True),
    Field(
        "capacity",
        "int",
        0,
        "Relationships that can take part per occurrence (0 = no limit); beyond it the highest observed profit go "
        "first.",
        "customers",
        "choice",
        lo=0,
        hi=10_000_000,
    ),
    Field(
        "models",
        "list[str]",
        ["all"],
        "Business models whose relationships take part (['all'] = every active relationship); a policy may choose "
        "participants instead.",
        kind="choice",
    ),
    Field(
        "p_align",
        "float",
        0.5,
        "Probability that one contact moves the customer's view toward the firm's treatment (assumed).",
        "probability",
        lo=0,
        hi=1,
    ),
    Field(
        "step",
        "float",
        0.3,
        "How far a successful contact moves the customer's perceived supply risk, per unit of misalignment (assumed).",
        "index",
        lo=0,
        hi=1,
    ),
    Field(
        "trust_boost",
        "float",
        0.05,
        "Trust gain of a contact: trust += trust_boost x (1 - trust) (assumed).",
        "index",
        lo=0,
        hi=1,
    ),
)

#: Customer inputs whose distribution parameters an ``[[estimates]]`` entry may name.
ESTIMATED = ("wallet", "price", "cost_to_serve", "growth", "churn")

#: Fields of one ``[[estimates]]`` entry: distribution parameters estimated together, with
#: their sampling covariance (``valuecapture calibrate`` writes them; parameter_uncertainty uses them).
ESTIMATE_FIELDS: tuple[Field, ...] = (
    Field(
        "fields",
        "list[str]",
        [],
        "Distribution parameters estimated together, as uncertainties.<input>.<parameter> (e.g. "
        "uncertainties.churn.a); the scenario's values of them are the estimates.",
        kind="uncertainty",
    ),
    Field(
        "covariance",
        "list[float]",
        [],
        "Sampling covariance matrix of the estimates, row by row (len(fields)^2 numbers; symmetric, positive "
        "semi-definite).",
        kind="uncertainty",
    ),
    Field(
        "method",
        "str",
        "",
        "How the parameters were estimated (recorded, not used), e.g. 'maximum likelihood, observed information'.",
        kind="meta",
    ),
)

ARRAY_TABLES: dict[str, tuple[Field, ...]] = {
    "choices.business_models": BUSINESS_MODEL_FIELDS,
    "correlations": CORRELATION_FIELDS,
    "interactions": INTERACTION_FIELDS,
    "estimates": ESTIMATE_FIELDS,
}
DEFAULT_BUSINESS_MODELS: list[dict[str, Any]] = [{f.path: copy.deepcopy(f.default) for f in BUSINESS_MODEL_FIELDS}]

_BY_PATH = {f.path: f for f in FIELDS}


def field_by_path(path: str) -> Field:
    return _BY_PATH[path]


def _known_children(prefix: str) -> set[str]:
    """Names allowed directly under the table ``prefix`` ('' for the top level)."""
    names: set[str] = set()
    paths = list(_BY_PATH) + list(ARRAY_TABLES)
    for p in paths:
        if prefix == "":
            names.add(p.split(".")[0])
        elif p.startswith(prefix + "."):
            names.add(p[len(prefix) + 1 :].split(".")[0])
    return names


def hint(name: str, options: Iterable[str]) -> str:
    """ "; did you mean 'x'? (allowed: ...)" or "; allowed: ..." for a bad name."""
    opts = sorted(options)
    close = difflib.get_close_matches(str(name), opts, n=1, cutoff=0.6)
    allowed = ", ".join(opts)
    return f"; did you mean {close[0]!r}? (allowed: {allowed})" if close else f"; allowed: {allowed}"
