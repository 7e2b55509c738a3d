"""The scenarios the benchmarks run.

* :func:`headline` -- ``scenarios/baseline.toml`` at a given size: the workload of the
  wall-time and memory targets (10,000 customers, 40 quarters, 1,000 replications).
* :func:`comparison` -- the same firm with every feature the per-customer baselines do
  not implement switched to neutral: one business model (the baseline's ``standard``,
  with no capital intensity, set-up or switching cost), no internal-fit penalties,
  no capability spending (insight, account managers, platform, reviews), alignment
  off.  What remains is the core model of docs/model.md: acquisition by prospecting
  and referral, one-factor demand shocks, economics, trust/adaptation/share of wallet,
  churn with contagion over the customer network, terminal value.  The engine, the
  per-customer loop, the simpy baseline and the random-number floor all run this
  scenario, so their throughputs compare the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import valuecapture as vc

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.toml"

#: The headline workload of the targets.
HEADLINE = {"customers": 10_000, "periods": 40, "replications": 1_000, "workers": 2}


def headline(customers: int = HEADLINE["customers"], periods: int = HEADLINE["periods"]) -> vc.Scenario:
    """``scenarios/baseline.toml`` with ``customers.count`` and ``horizon.periods`` set
    (per-relationship detail off, as it is not part of the engine's work)."""
    sc = vc.load_scenario(BASELINE)
    return sc.with_values({"customers.count": customers, "horizon.periods": periods, "outputs.relationship_detail": 0})


#: Overrides that make the baseline scenario's business-model and capability features neutral.
NEUTRAL: dict[str, Any] = {
    "business.fit_cost": 0.0,
    "business.fit_quality": 0.0,
    "business.complexity_cost": 0.0,
    "capabilities.insight_cost": 0.0,
    "capabilities.account_managers": 0,
    "capabilities.manager_cost": 0.0,
    "capabilities.platform_level": 0.0,
    "capabilities.platform_cost": 0.0,
    "capabilities.review_cost": 0.0,
    "alignment.enabled": False,
    "choices.policy": "single",
}


def comparison(
    customers: int = HEADLINE["customers"], periods: int = HEADLINE["periods"], base: vc.Scenario | None = None
) -> vc.Scenario:
    """The headline firm reduced to the core model (see the module docstring)."""
    sc = headline(customers, periods) if base is None else base
    standard = dict(sc.business_models[0], capital_intensity=0.0, setup_cost=0.0, switching_cost=0.0)
    return sc.with_values(dict(NEUTRAL, **{"choices.business_models": [standard]}))


def check_neutral(sc: vc.Scenario) -> None:
    """Raise if ``sc`` uses a feature the per-customer baselines do not implement."""
    from valuecapture.model.params import ModelParams

    p = ModelParams.from_scenario(sc)
    t = p.business_models
    checks = {
        "one business model": len(t) == 1,
        "policy 'single'": sc.get("choices.policy") == "single",
        "no capital intensity, set-up or switching cost": not (
            t.capital_intensity.any() or t.setup_cost.any() or t.switching_cost.any()
        ),
        "no account manager needed": not t.needs_manager.any(),
        "no capability spending": not (
            p.insight_cost_period or p.account_managers or p.platform_level or p.review_cost
        ),
        "alignment off, no portfolio tracking, no interaction spaces": not (
            p.alignment or p.portfolio_models or p.interactions
        ),
    }
    missing = [name for name, ok in checks.items() if not ok]
    if missing:
        raise ValueError("the per-customer baselines implement the core model only; needs: " + "; ".join(missing))
