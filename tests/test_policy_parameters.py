"""Policies with parameters: in the scenario, on the command line, validated against the signature."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import valuecapture as vc
from valuecapture.analysis.compare import check_policy_names, compare
from valuecapture.model.policies import PolicySpec, check_parameters, parse_policy_specs
from valuecapture.model.validate import check_scenario
from valuecapture.run.batch import Variant
from valuecapture.scenario.load import ScenarioError, loads

SMALL = """
[scenario]
name = "levers"
[horizon]
periods = 8
[customers]
count = 300
"""
THREE = "scenarios/baseline.toml"

names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)
values = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, st.dictionaries(names, values, max_size=3)), min_size=1, max_size=4))
def test_specs_parse_back_from_their_labels(items: list[tuple[str, dict]]) -> None:
    specs = [PolicySpec(n, p) for n, p in items]
    text = ", ".join(s.label for s in specs)
    assert parse_policy_specs(text) == specs


@pytest.mark.parametrize(
    "text",
    ["tiered(", "tiered(top_share)", "tiered(=1)", "tiered(top_share=__import__('os'))", "tie red", "tiered(x=[1])"],
)
def test_specs_that_do_not_parse_say_which_part(text: str) -> None:
    with pytest.raises(ValueError):
        parse_policy_specs(text)


def test_parameters_are_checked_against_the_signature() -> None:
    assert check_parameters("tiered", {"top_share": 0.2}) is None
    assert check_parameters("tiered", {"top_share": 1}) is None  # an integer is a number
    assert check_parameters("single", {"model": "standard"}) is None  # int | str
    key, message = check_parameters("tiered", {"top": 0.2}) or ("", "")
    assert key == "top" and "its parameters: top_share, middle_share" in message
    key, message = check_parameters("portfolio", {"listen": 1}) or ("", "")
    assert key == "listen" and "must be bool" in message
    key, message = check_parameters("matrix", {"price_split": 1.5}) or ("", "")
    assert key == "price_split" and "must be in [0, 1] for 'matrix', got 1.5" in message
    assert check_parameters("tiered", {"top_model": "standard", "lean_model": 2}) is None
    with pytest.raises(ValueError, match="unknown policy 'nonesuch'"):
        check_policy_names(["nonesuch(a=1)"])


def test_the_scenario_takes_a_policy_table_and_the_policy_gets_its_parameters() -> None:
    sc = loads(SMALL + '[choices.policy]\nname = "tiered"\ntop_share = 0.25\n', "levers.toml")
    assert sc.get("choices.policy") == "tiered" and sc.get("choices.policy_parameters") == {"top_share": 0.25}
    assert Variant.of(sc).policy.get_params() == {
        "top_share": 0.25,
        "middle_share": 0.5,
        "top_model": None,
        "middle_model": None,
        "lean_model": None,
    }
    again = loads(sc.to_toml(), "again.toml", ["choices.policy_parameters.middle_share=0.4"])
    assert again.get("choices.policy_parameters") == {"top_share": 0.25, "middle_share": 0.4}
    bad = loads(SMALL + '[choices.policy]\nname = "tiered"\ntop = 0.25\n', "levers.toml")
    with pytest.raises(ScenarioError, match=r"levers.toml: choices.policy_parameters.top: 'tiered' has no parameter"):
        check_scenario(bad)
    with pytest.raises(ScenarioError, match="choices.policy.name: must name the policy"):
        loads(SMALL + "[choices.policy]\ntop_share = 0.25\n", "levers.toml")


def test_a_comparison_of_one_policy_with_two_settings_differs_and_is_labelled() -> None:
    sc = vc.load_scenario(THREE, ["customers.count=300", "horizon.periods=8"])
    ds = compare(sc, ["tiered(top_share=0.05), tiered(top_share=0.3)", "single"], 6, 3)
    assert list(ds["policy"].values) == ["tiered(top_share=0.05)", "tiered(top_share=0.3)", "single"]
    fv = ds["firm_value"].values
    assert not np.array_equal(fv[0], fv[1])
    alone = vc.simulate(
        sc.with_values({"choices.policy": "tiered", "choices.policy_parameters": {"top_share": 0.3}}), 6, 3
    )
    np.testing.assert_array_equal(alone["firm_value"].values, fv[1])  # the same run as the scenario setting it


def test_the_matrix_policy_s_split_is_a_real_lever() -> None:
    """At the default split the matrix policy decides exactly as before (medians); another
    quantile moves relationships and so firm value."""
    sc = vc.load_scenario(THREE, ["customers.count=300", "horizon.periods=8"])
    ds = compare(sc, ["matrix", "matrix(price_split=0.5, cost_split=0.5)", "matrix(price_split=0.8)"], 4, 3)
    fv = ds["firm_value"].values
    np.testing.assert_array_equal(fv[0], fv[1])
    assert not np.array_equal(fv[0], fv[2])
