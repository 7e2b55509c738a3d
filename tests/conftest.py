"""Shared fixtures: small scenarios that run in a fraction of a second."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import valuecapture as vc

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def inproc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``valuecapture ARGS`` in this process from ``cwd`` (no interpreter start-up): exit code,
    stdout and stderr, as a subprocess would give them."""
    from valuecapture import cli as vc_cli

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = vc_cli.main(list(args))
            except SystemExit as exc:  # argparse
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def tiny(**values: Any) -> vc.Scenario:
    """The classroom scenario shrunk to 60 customers over 8 quarters, with overrides."""
    sc = vc.load_scenario(SCENARIOS / "classroom.toml")
    base = {
        "customers.count": 60,
        "horizon.periods": 8,
        "acquisition.prospects_per_year": 8.0,
        "outputs.relationship_detail": 4,
        "choices.fixed_cost": 20000.0,
    }
    base.update(values)
    return sc.with_values(base)


def steady(**values: Any) -> vc.Scenario:
    """Homogeneous customers in a constant state: trust sits at its fixed point.

    No volatility, no interdependence, no acquisition, constant attributes, trust
    equal to experienced quality and adaptation equal to the business model's level,
    so every active relationship earns the same economic profit every period.
    Churn is set per test.
    """
    quality, adaptation, aq = 0.65, 0.3, 0.15
    base = {
        "customers.count": 50,
        "horizon.periods": 12,
        "horizon.periods_per_year": 1,
        "uncertainties.wallet": {"dist": "fixed", "value": 100000.0},
        "uncertainties.price": {"dist": "fixed", "value": 0.95},
        "uncertainties.cost_to_serve": {"dist": "fixed", "value": 0.1},
        "uncertainties.growth": {"dist": "fixed", "value": 0.0},
        "uncertainties.churn": {"dist": "fixed", "value": 0.0},
        "uncertainties.initial_trust": {"dist": "fixed", "value": quality + aq * adaptation},
        "uncertainties.initial_adaptation": {"dist": "fixed", "value": adaptation},
        "uncertainties.initial_age": {"dist": "fixed", "value": 3.0},
        "relationship.adaptation_quality": aq,
        "relationship.quality_noise": 0.0,
        "relationship.churn_trust_effect": 0.0,
        "demand.volatility": 0.0,
        "acquisition.prospects_per_year": 0.0,
        "acquisition.referral_rate": 0.0,
        "heterogeneity.interdependence": False,
        "correlations": [],
        "choices.business_models": [
            {
                "name": "standard",
                "quality": quality,
                "adaptation": adaptation,
                "service_cost": 3000.0,
                "fixed_cost": 50000.0,
                "capital_intensity": 0.0,
            }
        ],
        "business.fit_cost": 0.0,
        "business.fit_quality": 0.0,
        "capabilities.insight_cost": 0.0,
        "choices.fixed_cost": 100000.0,
        "outputs.relationship_detail": 1000,
    }
    base.update(values)
    return vc.load_scenario(SCENARIOS / "classroom.toml").with_values(base)


@pytest.fixture
def classroom_path() -> Path:
    return SCENARIOS / "classroom.toml"


THREE_MODELS = [
    {
        "name": "standard",
        "quality": 0.65,
        "adaptation": 0.3,
        "service_cost": 3000.0,
        "fixed_cost": 50000.0,
        "channel": "field_sales",
        "account_management": 0.4,
    },
    {
        "name": "key_account",
        "quality": 0.85,
        "adaptation": 0.7,
        "service_cost": 20000.0,
        "price_factor": 1.04,
        "cost_to_serve_factor": 1.1,
        "channel": "key_account_team",
        "account_management": 0.9,
        "capital_intensity": 0.25,
        "platform": "dedicated",
        "fixed_cost": 80000.0,
        "setup_cost": 100000.0,
        "switching_cost": 2000.0,
    },
    {
        "name": "transactional",
        "quality": 0.45,
        "adaptation": 0.0,
        "service_cost": 800.0,
        "price_factor": 0.95,
        "cost_to_serve_factor": 0.8,
        "channel": "e_channel",
        "account_management": 0.0,
        "capital_intensity": 0.02,
        "platform": "standard",
        "fixed_cost": 30000.0,
        "setup_cost": 50000.0,
        "switching_cost": 300.0,
    },
]


def three_models(**values: Any) -> vc.Scenario:
    """tiny() with standard / key-account / transactional business models, 2 account managers
    of 5 accounts each, and a review every 2 quarters."""
    base: dict[str, Any] = {
        "choices.business_models": THREE_MODELS,
        "capabilities.account_managers": 2,
        "capabilities.accounts_per_manager": 5,
        "capabilities.review_interval": 2,
        "business.complexity_cost": 100000.0,
    }
    base.update(values)
    return tiny(**base)
