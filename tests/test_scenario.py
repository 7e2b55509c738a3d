"""Scenario loading, overrides, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SCENARIOS

import valuecapture as vc
from valuecapture.scenario.load import FIELDS, ScenarioError


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_scenarios_validate(path: Path) -> None:
    sc = vc.load_scenario(path)
    assert sc.name == path.stem


def test_defaults_and_round_trip_through_toml() -> None:
    sc = vc.load_scenario(SCENARIOS / "baseline.toml")
    assert sc.get("economics.wacc") == 0.09
    again = vc.loads(sc.to_toml())
    assert again.to_dict() == sc.to_dict()


def test_overrides_are_applied_and_validated() -> None:
    sc = vc.load_scenario(
        SCENARIOS / "baseline.toml",
        overrides=["customers.count=5000", "horizon.periods=60", "scenario.name=big", "uncertainties.wallet.s=1.5"],
    )
    assert sc.get("customers.count") == 5000 and sc.get("horizon.periods") == 60 and sc.name == "big"
    assert sc.get("uncertainties.wallet").kwargs["s"] == 1.5
    with pytest.raises(ScenarioError, match=r"customers\.count: must be an integer"):
        vc.load_scenario(SCENARIOS / "baseline.toml", overrides=["customers.count=lots"])
    with pytest.raises(ScenarioError, match="did you mean 'customers'"):
        vc.load_scenario(SCENARIOS / "baseline.toml", overrides=["customer.count=5"])


BAD = {
    "malformed": ("[horizon\nperiods = 3\n", "", "malformed TOML"),
    "unknown_key": ("[horizon]\nperiodz = 3\n", "horizon.periodz", "did you mean 'periods'"),
    "unknown_section": ("[horizn]\nperiods = 3\n", "horizn", "did you mean 'horizon'"),
    "wrong_type": ('[customers]\ncount = "many"\n', "customers.count", "must be an integer"),
    "float_count": ("[customers]\ncount = 2.5\n", "customers.count", "must be an integer"),
    "nan": ("[economics]\nwacc = nan\n", "economics.wacc", "finite"),
    "inf": ("[economics]\ntax_rate = inf\n", "economics.tax_rate", "finite"),
    "negative_count": ("[customers]\ncount = -5\n", "customers.count", "[1, 1e+07]"),
    "retention_above_one": (
        '[uncertainties.churn]\ndist = "fixed"\nvalue = -0.2\n',
        "uncertainties.churn.value",
        "must be in [0, 1], got -0.2",
    ),
    "churn_above_one": (
        '[uncertainties.churn]\ndist = "uniform"\nloc = 0.5\nscale = 0.8\n',
        "uncertainties.churn",
        "above the allowed maximum 1",
    ),
    "horizon_zero": ("[horizon]\nperiods = 0\n", "horizon.periods", "[1, 2400]"),
    "unknown_dist": (
        '[uncertainties.wallet]\ndist = "lognormal"\ns = 1\n',
        "uncertainties.wallet.dist",
        "allowed: fixed",
    ),
    "dist_param": (
        '[uncertainties.wallet]\ndist = "lognorm"\nsigma = 1\n',
        "uncertainties.wallet.sigma",
        "allowed: s, loc, scale",
    ),
    "impossible_rho": ("[demand]\nrho_within = 0.1\nrho_across = 0.3\n", "demand.rho_across", "must not exceed"),
    "weights_length": (
        '[customers]\nsegments = ["a", "b"]\nsegment_weights = [1.0]\n',
        "customers.segment_weights",
        "one weight per segment",
    ),
    "enum": ('[economics]\nterminal_value = "gordon"\n', "economics.terminal_value", "allowed: none, runoff"),
    "bool": ("[heterogeneity]\ncustomer = 1\n", "heterogeneity.customer", "true or false"),
    "correlation_pd": (
        (
            '[[correlations]]\nbetween = ["wallet", "price"]\nrho = 0.9\n[[correlations]]\n'
            'between = ["wallet", "churn"]\nrho = 0.9\n[[correlations]]\nbetween = ["price", "churn"]\nrho = -0.9\n'
        ),
        "correlations",
        "not positive definite",
    ),
    "correlation_name": (
        '[[correlations]]\nbetween = ["wallet", "prize"]\nrho = 0.2\n',
        "correlations[0].between",
        "did you mean 'price'",
    ),
    "bm_key": (
        '[[choices.business_models]]\nname = "x"\nqualty = 0.5\n',
        "choices.business_models[0].qualty",
        "did you mean 'quality'",
    ),
    "section_scalar": ("horizon = 5\n", "horizon", "is a section"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_file_and_field(tmp_path: Path, case: str) -> None:
    text, field, fragment = BAD[case]
    f = tmp_path / f"{case}.toml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as err:
        vc.load_scenario(f)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"{f}: "), msg
    assert err.value.field == field, msg
    assert fragment in msg, msg


@pytest.mark.parametrize(
    "text, field, fragment",
    [
        ('[choices]\npolicy = "nonesuch"\n', "choices.policy", "known: single"),
        ('[portfolio]\nmodels = ["shapiro", "nope"]\n', "portfolio.models", "unknown portfolio model 'nope'"),
        (
            '[alignment]\nenabled = true\nsales_model = "kraljic"\n',
            "alignment.sales_model",
            "must be a supplier-side portfolio model",
        ),
    ],
)
def test_plugins_a_scenario_names_are_checked_by_the_model(
    tmp_path: Path, text: str, field: str, fragment: str
) -> None:
    """The scenario layer checks structure; which policies and portfolio models exist is the
    model's to say (model.validate.check_scenario), before every run and in validate."""
    from valuecapture.model.validate import check_scenario

    f = tmp_path / "s.toml"
    f.write_text('[scenario]\nname = "s"\n' + text)
    sc = vc.load_scenario(f)
    with pytest.raises(ScenarioError) as err:
        check_scenario(sc)
    assert err.value.field == field and fragment in str(err.value) and str(err.value).startswith(f"{f}: ")
    with pytest.raises(ScenarioError, match=field):
        vc.simulate(sc, 2, 1)


def test_missing_file() -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        vc.load_scenario(ROOT / "no_such.toml")


def test_every_field_is_documented() -> None:
    """docs/scenarios.md is generated from the schema and up to date (python -m valuecapture.scenario.docs)."""
    from valuecapture.scenario.docs import scenarios_markdown

    text = (ROOT / "docs" / "scenarios.md").read_text()
    assert text == scenarios_markdown(), "docs/scenarios.md is stale: run python -m valuecapture.scenario.docs"
    for f in FIELDS:
        assert f"`{f.path}`" in text
