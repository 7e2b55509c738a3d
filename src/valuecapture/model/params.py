"""Numeric parameters of the model, derived once from a validated Scenario."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from valuecapture.data.customers import InitialCustomers, initial_customers
from valuecapture.model.business_models import BusinessModelTable
from valuecapture.scenario.distributions import Distribution
from valuecapture.scenario.load import CORRELATED, Scenario


@dataclass(frozen=True)
class InteractionSpace:
    """One ``[[interactions]]`` entry, resolved (see docs/alignment.md)."""

    name: str
    cadence: int
    cost_per_contact: float
    fixed_cost_period: float
    capacity: int
    models: tuple[int, ...] | None  # business-model indices; None = all
    p_align: float
    step: float
    trust_boost: float

    @classmethod
    def from_entry(cls, e: dict, business_models: list[dict], dt: float) -> InteractionSpace:
        names = [bm["name"] for bm in business_models]
        models = None if e["models"] == ["all"] else tuple(names.index(m) for m in e["models"])
        return cls(
            e["name"],
            e["cadence"],
            e["cost_per_contact"],
            e["fixed_cost"] * dt,
            e["capacity"],
            models,
            e["p_align"],
            e["step"],
            e["trust_boost"],
        )


@dataclass(frozen=True)
class EstimateBlock:
    """One ``[[estimates]]`` entry, resolved: parameters estimated together and the factor of
    their sampling covariance, on the scale they are drawn on (log for every parameter but
    ``loc``, so a drawn scale or shape stays positive; delta method: ``Cov(log v) = Cov(v) / v v'``).
    A draw is ``v exp(L z)`` (log scale) or ``v + L z``, so a zero covariance draws ``v`` exactly.
    """

    inputs: tuple[str, ...]  # customer input of each parameter (uncertainties.<input>)
    names: tuple[str, ...]  # the distribution parameter (a, b, s, scale, loc, ...)
    log: tuple[bool, ...]  # drawn on the log scale
    value: np.ndarray  # the estimates
    factor: np.ndarray  # lower-triangular L with L L' = covariance on the drawing scale

    @classmethod
    def from_entry(cls, e: dict, attributes: dict[str, Distribution]) -> EstimateBlock:
        parts = [f.split(".") for f in e["fields"]]
        inputs = tuple(q[1] for q in parts)
        names = tuple(q[2] for q in parts)
        value = np.array([attributes[i].kwargs[n] for i, n in zip(inputs, names, strict=True)])
        log = tuple(n != "loc" for n in names)
        k = len(names)
        cov = np.asarray(e["covariance"], dtype=float).reshape(k, k)
        d = np.where(log, value, 1.0)
        return cls(inputs, names, log, value, psd_cholesky(cov / np.outer(d, d)))


def psd_cholesky(c: np.ndarray) -> np.ndarray:
    """Lower-triangular ``L`` with ``L L' = c`` for a symmetric positive semi-definite ``c``
    (a pivot that is zero up to rounding gives a zero column).  Plain arithmetic in a fixed
    order, not LAPACK: the same bits on every machine, so a parameter draw never depends
    on where a replication runs."""
    k = c.shape[0]
    out = np.zeros((k, k))
    for j in range(k):
        pivot = c[j, j] - sum(out[j, m] * out[j, m] for m in range(j))
        if pivot <= 1e-12 * max(abs(c[j, j]), 1e-300):
            continue
        out[j, j] = math.sqrt(pivot)
        for i in range(j + 1, k):
            out[i, j] = (c[i, j] - sum(out[i, m] * out[j, m] for m in range(j))) / out[j, j]
    return out


@dataclass(frozen=True)
class StageParams:
    """The ``[stages]`` table, resolved (docs/model.md, "Relationship stages"): ``K`` stages, a
    ``K x C`` transition matrix whose rows sum to 1 (``C = K + 1``: the last column is the
    probability that the relationship ends), per-stage effects and the shifts."""

    names: tuple[str, ...]
    transitions: np.ndarray  # (K, C), rows normalised to sum to 1
    cumulative: np.ndarray  # (K, C) running sums of the rows, exactly 1.0 from each row's last positive entry on
    ends: bool  # C == K + 1: the last column ends the relationship
    initial: np.ndarray  # (K,) shares of the initial customers, summing to 1
    margin_factor: np.ndarray  # (K,)
    margin_period: np.ndarray  # (K,) economic profit added per period, after tax (currency)
    cost_to_serve_factor: np.ndarray  # (K,)
    churn_multiplier: np.ndarray  # (K,)
    closeness: np.ndarray  # (C,) of the destinations; the end column 0
    trust_shift: float
    adaptation_shift: float
    model_shift: np.ndarray  # (business models,)

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def economic(self) -> bool:
        """Whether a stage changes economic profit (a margin factor, a margin or a cost-to-serve factor)."""
        return bool(
            np.any(self.margin_factor != 1.0) or np.any(self.margin_period != 0.0)
            or np.any(self.cost_to_serve_factor != 1.0)
        )  # fmt: skip

    @property
    def shifted(self) -> bool:
        """Whether the transitions depend on trust, adaptation or the business model."""
        return bool(self.trust_shift or self.adaptation_shift or np.any(self.model_shift != 0.0))

    @classmethod
    def from_scenario(cls, sc: Scenario, dt: float) -> StageParams:
        g = sc.get
        names = tuple(g("stages.names"))
        k = len(names)
        rows = np.asarray(g("stages.transitions"), dtype=float)
        rows = rows / rows.sum(axis=1, keepdims=True)
        cumulative = np.cumsum(rows, axis=1)
        for i in range(k):  # u < 1 always finds a column with positive probability
            cumulative[i, int(np.flatnonzero(rows[i] > 0)[-1]) :] = 1.0

        def per_stage(key: str, default: float) -> np.ndarray:
            values = g(f"stages.{key}")
            return np.asarray(values, dtype=float) if values else np.full(k, default)

        initial = per_stage("initial", 0.0)
        if not g("stages.initial"):
            initial[0] = 1.0
        closeness = np.asarray(g("stages.closeness"), dtype=float) if g("stages.closeness") else np.linspace(0, 1, k)
        ends = rows.shape[1] == k + 1
        models = [bm["name"] for bm in sc.business_models]
        shifts = g("stages.model_shift")
        return cls(
            names=names,
            transitions=rows,
            cumulative=cumulative,
            ends=ends,
            initial=initial / initial.sum(),
            margin_factor=per_stage("margin_factor", 1.0),
            margin_period=(1.0 - g("economics.tax_rate")) * dt * per_stage("margin", 0.0),
            cost_to_serve_factor=per_stage("cost_to_serve_factor", 1.0),
            churn_multiplier=per_stage("churn_multiplier", 1.0),
            closeness=np.append(closeness, 0.0) if ends else closeness,
            trust_shift=float(g("stages.trust_shift")),
            adaptation_shift=float(g("stages.adaptation_shift")),
            model_shift=np.array([float(shifts.get(m, 0.0)) for m in models]),
        )


@dataclass(frozen=True)
class ModelParams:
    """Everything the sub-models need, in per-period units where that matters."""

    periods: int
    periods_per_year: int
    dt: float  # years per period
    n_initial: int
    n_slots: int
    wacc_period: float
    tax_rate: float
    cogs_ratio: float
    dso_years: float
    inventory_years: float
    terminal_value: str
    segment_cum_weights: np.ndarray
    n_segments: int
    attributes: dict[str, Distribution]
    correlation: np.ndarray
    correlated: tuple[bool, ...]
    initial_trust: Distribution
    initial_adaptation: Distribution
    initial_age: Distribution
    volatility_period: float
    persistence: float
    rho_within: float
    rho_across: float
    trust_up: float
    trust_down: float
    quality_noise: float
    sow_intercept: float
    sow_trust: float
    sow_adaptation: float
    adaptation_rate: float
    adaptation_quality: float
    adaptation_cost: float
    dedicated_assets: float
    new_trust: float
    churn_trust_effect: float
    network_generator: str
    mean_degree: float
    within_segment: float
    rewire: float
    log_contagion: float
    contagion_decay: float
    prospects_per_period: float
    acquisition_cost: float
    referral_prob_period: float
    referral_cost_factor: float
    referral_churn_factor: float
    customer_heterogeneity: bool
    relationship_heterogeneity: bool
    interdependence: bool
    firm_fixed_cost_period: float
    business_models: BusinessModelTable
    relationship_detail: int
    complexity_c1_period: float
    complexity_exponent: float
    insight_level: float
    insight_cost_period: float
    insight_noise: float
    insight_lag: int
    account_managers: int
    accounts_per_manager: int
    manager_cost_period: float
    platform_level: float
    platform_cost_period: float
    platform_effect: float
    review_interval: int
    review_cost: float
    alignment: bool = False
    kraljic_levels: tuple[float, ...] = (1.0, 0.33, 0.67, 0.0)
    align_trust_effect: float = 0.0
    align_churn_effect: float = 0.0
    align_sow_effect: float = 0.0
    align_waste: float = 0.0
    view_reassess: float = 0.0
    view_noise: float = 0.0
    aligned_below: float = 0.25
    downgrade_trust_loss: float = 0.0
    legitimacy: float = 0.0
    legitimacy_window: int = 0
    internal_alignment: bool = False
    sales_model: str = "shapiro"
    internal_cost: float = 0.0
    wallet_median: float = 1.0
    interactions: tuple[InteractionSpace, ...] = ()
    portfolio_track: bool = False
    portfolio_models: tuple[str, ...] = ()
    revenue_panel: bool = False  # outputs.revenue_panel: keep each relationship's revenue by year
    network_output: bool = False  # outputs.network: keep the ties among the customers of the detail replications
    estimates: tuple[EstimateBlock, ...] = ()  # drawn per group of replications when parameter_uncertainty
    parameter_per_draw: int = 1
    initial_customers: InitialCustomers | None = None  # the firm's actual customers (customers.source)
    stages: StageParams | None = None  # relationship stages (stages.enabled), else None

    @classmethod
    def from_scenario(cls, sc: Scenario) -> ModelParams:
        g = sc.get
        ppy = g("horizon.periods_per_year")
        dt = 1.0 / ppy
        weights = np.asarray(g("customers.segment_weights"), dtype=float)
        corr = g("_correlation_matrix")
        interdep = g("heterogeneity.interdependence")
        attributes = {a: g(f"uncertainties.{a}") for a in CORRELATED if a != "segment"}
        return cls(
            periods=g("horizon.periods"),
            periods_per_year=ppy,
            dt=dt,
            n_initial=g("customers.count"),
            n_slots=slot_count(sc),
            wacc_period=(1.0 + g("economics.wacc")) ** dt - 1.0,
            tax_rate=g("economics.tax_rate"),
            cogs_ratio=g("economics.cogs_ratio"),
            dso_years=g("economics.dso_days") / 365.0,
            inventory_years=g("economics.inventory_days") / 365.0,
            terminal_value=g("economics.terminal_value"),
            segment_cum_weights=np.cumsum(weights) / weights.sum(),
            n_segments=len(weights),
            attributes=attributes,
            correlation=corr,
            correlated=tuple(
                bool(np.any(corr[i, np.arange(len(CORRELATED)) != i] != 0)) for i in range(len(CORRELATED))
            ),
            initial_trust=g("uncertainties.initial_trust"),
            initial_adaptation=g("uncertainties.initial_adaptation"),
            initial_age=g("uncertainties.initial_age"),
            volatility_period=g("demand.volatility") * math.sqrt(dt),
            persistence=g("demand.persistence"),
            rho_within=g("demand.rho_within") if interdep else 0.0,
            rho_across=g("demand.rho_across") if interdep else 0.0,
            trust_up=g("relationship.trust_up"),
            trust_down=g("relationship.trust_down"),
            quality_noise=g("relationship.quality_noise") if g("heterogeneity.relationship") else 0.0,
            sow_intercept=g("relationship.sow_intercept"),
            sow_trust=g("relationship.sow_trust"),
            sow_adaptation=g("relationship.sow_adaptation"),
            adaptation_rate=g("relationship.adaptation_rate"),
            adaptation_quality=g("relationship.adaptation_quality"),
            adaptation_cost=g("relationship.adaptation_cost"),
            dedicated_assets=g("relationship.dedicated_assets"),
            new_trust=g("relationship.new_trust"),
            churn_trust_effect=g("relationship.churn_trust_effect"),
            network_generator=g("network.generator") if interdep else "none",
            mean_degree=g("network.mean_degree"),
            within_segment=g("network.within_segment"),
            rewire=g("network.rewire"),
            log_contagion=math.log(g("contagion.multiplier")) if interdep else 0.0,
            contagion_decay=g("contagion.decay"),
            prospects_per_period=g("acquisition.prospects_per_year") * dt,
            acquisition_cost=g("acquisition.acquisition_cost"),
            referral_prob_period=min(1.0, g("acquisition.referral_rate") * dt) if interdep else 0.0,
            referral_cost_factor=g("acquisition.referral_cost_factor"),
            referral_churn_factor=g("acquisition.referral_churn_multiplier"),
            customer_heterogeneity=g("heterogeneity.customer"),
            relationship_heterogeneity=g("heterogeneity.relationship"),
            interdependence=interdep,
            firm_fixed_cost_period=g("choices.fixed_cost") * dt,
            business_models=BusinessModelTable.from_scenario(sc),
            relationship_detail=g("outputs.relationship_detail"),
            complexity_c1_period=g("business.complexity_cost") * dt,
            complexity_exponent=g("business.complexity_exponent"),
            insight_level=g("capabilities.insight_level"),
            insight_cost_period=g("capabilities.insight_cost") * dt,
            insight_noise=g("capabilities.insight_noise"),
            insight_lag=g("capabilities.insight_lag"),
            account_managers=g("capabilities.account_managers"),
            accounts_per_manager=g("capabilities.accounts_per_manager"),
            manager_cost_period=g("capabilities.manager_cost") * dt,
            platform_level=g("capabilities.platform_level"),
            platform_cost_period=g("capabilities.platform_cost") * dt,
            platform_effect=g("capabilities.platform_effect"),
            review_interval=g("capabilities.review_interval") or ppy,
            review_cost=g("capabilities.review_cost"),
            alignment=g("alignment.enabled"),
            kraljic_levels=tuple(g("alignment.kraljic_levels")),
            align_trust_effect=g("alignment.trust_effect"),
            align_churn_effect=g("alignment.churn_effect"),
            align_sow_effect=g("alignment.sow_effect"),
            align_waste=g("alignment.waste"),
            view_reassess=g("alignment.reassess"),
            view_noise=g("alignment.view_noise"),
            aligned_below=g("alignment.aligned_below"),
            downgrade_trust_loss=g("alignment.downgrade_trust_loss"),
            legitimacy=g("alignment.legitimacy"),
            legitimacy_window=g("alignment.legitimacy_window"),
            internal_alignment=g("alignment.internal"),
            sales_model=g("alignment.sales_model"),
            internal_cost=g("alignment.internal_cost"),
            wallet_median=float(g("uncertainties.wallet").ppf(np.array(0.5))),
            interactions=tuple(InteractionSpace.from_entry(e, sc.business_models, dt) for e in g("interactions")),
            portfolio_track=g("portfolio.track"),
            portfolio_models=tuple(g("portfolio.models")) if g("portfolio.track") else (),
            revenue_panel=g("outputs.revenue_panel"),
            network_output=g("outputs.network"),
            estimates=tuple(EstimateBlock.from_entry(e, attributes) for e in g("estimates"))
            if g("parameter_uncertainty.enabled")
            else (),
            parameter_per_draw=g("parameter_uncertainty.per_draw"),
            initial_customers=initial_customers(sc) if g("customers.source") else None,
            stages=StageParams.from_scenario(sc, dt) if g("stages.enabled") else None,
        )


def slot_count(sc: Scenario) -> int:
    """Customer slots per replication: initial customers plus acquisition headroom.

    With ``customers.max_slots = 0`` the headroom is 1.5x the acquisitions
    expected if the base stayed at its initial size (prospects plus referrals
    at full trust) plus six Poisson standard deviations and 16 spare slots.
    The count is rounded up to a multiple of 512.
    """
    explicit = sc.get("customers.max_slots")
    if explicit:
        return _round_up(int(explicit))
    years = sc.get("horizon.periods") / sc.get("horizon.periods_per_year")
    # Independent of the heterogeneity switches, so that switched-off variants of a
    # scenario draw exactly the same random numbers (common random numbers).
    expected = sc.get("acquisition.prospects_per_year") * years
    expected += sc.get("acquisition.referral_rate") * years * sc.get("customers.count")
    headroom = 1.5 * expected + 6.0 * math.sqrt(expected) + 16
    return _round_up(int(sc.get("customers.count") + math.ceil(headroom)))


def _round_up(n: int) -> int:
    """Slots are allocated in blocks of 512 (see model.state.rowsum)."""
    return -(-n // 512) * 512
