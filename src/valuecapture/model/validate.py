"""The model's checks of a scenario: every plugin it names exists and fits where it is used.

The scenario layer checks a file's structure, types and ranges; which policies and
portfolio models exist is known here, where they are defined and registered (built-ins,
and installed packages' entry points).  :func:`check_scenario` runs before every run
(:func:`~valuecapture.run.simulate.check_run`) and in ``valuecapture validate``, and raises
the same one-line :class:`~valuecapture.scenario.ScenarioError` as the scenario layer.
"""

from __future__ import annotations

from valuecapture.model.policies import check_parameters, registered_policies
from valuecapture.model.portfolio_models import Kraljic, get_portfolio_model, registered_portfolio_models
from valuecapture.scenario.load import Scenario, ScenarioError, hint


def check_scenario(sc: Scenario) -> None:
    """Raise :class:`ScenarioError` naming the field when a plugin named in ``sc`` is unknown or misplaced."""
    source = sc.source
    known_pm = registered_portfolio_models()
    for m in sc.get("portfolio.models"):
        if m not in known_pm:
            raise ScenarioError(source, "portfolio.models", f"unknown portfolio model {m!r}" + hint(m, known_pm))
    if (
        sc.get("portfolio.track")
        and any(_customer_side(m) for m in sc.get("portfolio.models"))
        and not sc.get("alignment.enabled")
    ):
        customer = [m for m in sc.get("portfolio.models") if _customer_side(m)]
        raise ScenarioError(
            source,
            "portfolio.models",
            f"{customer[0]!r} is the customer's view and needs alignment.enabled = true (or drop it from the list)",
        )
    sales = sc.get("alignment.sales_model")
    if sales not in known_pm or _customer_side(sales):
        supplier = [k for k in known_pm if not _customer_side(k)]
        raise ScenarioError(
            source,
            "alignment.sales_model",
            f"must be a supplier-side portfolio model, got {sales!r}" + hint(sales, supplier),
        )
    known = registered_policies()
    policy = sc.get("choices.policy")
    if policy not in known:
        raise ScenarioError(source, "choices.policy", f"unknown policy {policy!r}; known: {', '.join(known)}")
    problem = check_parameters(policy, sc.get("choices.policy_parameters"))
    if problem is not None:
        key, message = problem
        raise ScenarioError(source, "choices.policy_parameters" + (f".{key}" if key else ""), message)


def _customer_side(name: str) -> bool:
    """True for a registered portfolio model that classifies the supplier from the customer's side."""
    if name == Kraljic.name:
        return True
    try:
        return get_portfolio_model(name).side == "customer"
    except Exception:  # a broken installed package: treated as unknown by the caller's checks
        return False
