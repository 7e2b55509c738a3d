"""Relationship stages (docs/model.md, "Relationship stages"): the Markov-chain closed forms,
the shifted transitions, the stage effects, the outputs, the policy view and the scenario's
errors.

Statistical tests use a fixed seed and a tolerance of 4 Monte Carlo standard errors of the
quantity compared (its sample standard deviation over the independent relationships, divided
by the square root of their number): a correct model fails one such check about once in
16,000 runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SCENARIOS, inproc, tiny

import valuecapture as vc
from valuecapture.model.params import ModelParams
from valuecapture.model.policies import PartnersPolicy, make_view
from valuecapture.scenario.load import ScenarioError

#: A chain of three stages with an end column; every stage can end, so (I - Q) is invertible.
ROWS = [
    [0.50, 0.30, 0.00, 0.20],
    [0.10, 0.70, 0.15, 0.05],
    [0.00, 0.20, 0.70, 0.10],
]
MARGIN = [-4000.0, 8000.0, 20000.0]  # a year, before tax


def chain(**values: object) -> vc.Scenario:
    """Initial customers only, spread evenly over three stages, whose economic profit per period is
    exactly the stage's margin (margin factor 0, no service cost, no terminal value) and who end only
    through the chain's end column (churn multiplier 0: no retention churn)."""
    base: dict[str, object] = {
        "customers.count": 5000,
        "horizon.periods": 120,
        "acquisition.prospects_per_year": 0.0,
        "acquisition.referral_rate": 0.0,
        "choices.business_models.0.service_cost": 0.0,
        "economics.terminal_value": "none",
        "outputs.relationship_detail": 8,
        "stages.enabled": True,
        "stages.names": ["acquaintance", "friend", "partner"],
        "stages.transitions": ROWS,
        "stages.initial": [1.0, 1.0, 1.0],
        "stages.margin_factor": [0.0, 0.0, 0.0],
        "stages.margin": MARGIN,
        "stages.churn_multiplier": [0.0, 0.0, 0.0],
    }
    base.update(values)
    return vc.load_scenario(SCENARIOS / "classroom.toml").with_values(base)


def _within(sim: np.ndarray, se: np.ndarray, want: np.ndarray, k: float = 4.0) -> None:
    assert np.all(np.abs(sim - want) <= k * se), f"simulated {sim}, closed form {want}, 4 SE {k * se}"


def test_value_and_lifetime_by_starting_stage_match_the_markov_chain_closed_forms() -> None:
    """Pfeifer & Carraway (2000): with transitions Q among the stages, margin m per period and the
    per-period discount factor d, a relationship in stage s during period 1 is worth
    [d (I - d Q)^-1 m]_s (flows at the end of each period, the engine's convention) and is active
    [(I - Q)^-1 1]_s periods on average.  Over a horizon of T periods (no terminal value) the same
    sums stop at T: [d (I - d Q)^-1 (I - (d Q)^T) m]_s and [(I - Q)^-1 (I - Q^T) 1]_s, which the
    simulation must match within 4 standard errors; at T = 120 quarters they differ from the
    infinite-horizon forms by less than 0.5% (checked below)."""
    sc = chain()
    p = ModelParams.from_scenario(sc)
    assert p.stages is not None
    q = p.stages.transitions[:, :3]
    m = p.stages.margin_period
    d = 1.0 / (1.0 + p.wacc_period)
    eye, t = np.eye(3), p.periods
    value_inf = d * np.linalg.solve(eye - d * q, m)
    lifetime_inf = np.linalg.solve(eye - q, np.ones(3))
    value = d * np.linalg.solve(eye - d * q, (eye - np.linalg.matrix_power(d * q, t)) @ m)
    lifetime = np.linalg.solve(eye - q, (eye - np.linalg.matrix_power(q, t)) @ np.ones(3))
    np.testing.assert_allclose(value, value_inf, rtol=5e-3)
    np.testing.assert_allclose(lifetime, lifetime_inf, rtol=5e-3)

    ds = vc.simulate(sc, 8, seed=2101)
    first = ds.initial_stage.values[:, : p.n_initial].ravel()
    rv = ds.relationship_value.values[:, : p.n_initial].ravel()
    life = ds.periods_active.values[:, : p.n_initial].ravel()
    sims, ses, lives, life_ses = [], [], [], []
    for s in range(3):
        pick = first == s
        assert pick.sum() > 12000  # about a third of 40,000 relationships each
        sims.append(rv[pick].mean())
        ses.append(rv[pick].std(ddof=1) / np.sqrt(pick.sum()))
        lives.append(life[pick].mean())
        life_ses.append(life[pick].std(ddof=1) / np.sqrt(pick.sum()))
    _within(np.array(sims), np.array(ses), value)
    _within(np.array(lives), np.array(life_ses), lifetime)
    # the stages' churn is all the churn: every relationship that ended did so through the end column
    assert ds.stage_transitions.values[..., 3].sum() == ds.churned.values.sum() > 0


def test_the_run_off_terminal_value_counts_the_stage_s_end_probability() -> None:
    """One stage that ends with probability e a period (no retention churn): a relationship is worth
    m / (i + e) over an infinite horizon.  The run-off terminal value at the horizon folds e into the
    hazard, so a run of 8 periods must give the same mean within 4 standard errors."""
    e = 0.15
    sc = chain(
        **{
            "economics.terminal_value": "runoff",
            "horizon.periods": 8,
            "stages.names": ["only", "unused"],
            "stages.transitions": [[1 - e, 0.0, e], [0.0, 1.0, 0.0]],
            "stages.initial": [],
            "stages.margin_factor": [0.0, 0.0],
            "stages.margin": [10000.0, 0.0],
            "stages.churn_multiplier": [0.0, 0.0],
        }
    )
    p = ModelParams.from_scenario(sc)
    assert p.stages is not None
    want = p.stages.margin_period[0] / (p.wacc_period + e)
    ds = vc.simulate(sc, 2, seed=12)
    rv = ds.relationship_value.values[:, : p.n_initial].ravel()
    se = rv.std(ddof=1) / np.sqrt(rv.size)
    assert abs(rv.mean() - want) <= 4 * se, (rv.mean(), want, se)
    no_fold = p.stages.margin_period[0] * (1 - (1 - e) ** 8 / (1 + p.wacc_period) ** 8) / (p.wacc_period + e)
    no_fold += (1 - e) ** 8 / (1 + p.wacc_period) ** 8 * p.stages.margin_period[0] / p.wacc_period
    assert abs(no_fold - want) > 10 * se  # a run-off that ignored the end would be far off


def test_shifted_transitions_follow_the_multinomial_logit_of_closeness() -> None:
    """Trust fixed at its mean (no relationship heterogeneity, no trust movement) and one business
    model with a shift: every row is P_ij exp(x c_j) renormalised, x = trust_shift (T - 0.5) +
    model_shift.  The observed moves out of each stage are multinomial; each frequency within 4
    binomial standard errors of its probability."""
    ts, ms = 2.5, -0.4
    sc = chain(
        **{
            "heterogeneity.relationship": False,
            "relationship.trust_up": 0.0,
            "relationship.trust_down": 0.0,
            "stages.trust_shift": ts,
            "stages.model_shift": {"standard": ms},
            "stages.closeness": [0.0, 0.4, 1.0],
            "horizon.periods": 20,
            "customers.count": 2000,
        }
    )
    p = ModelParams.from_scenario(sc)
    assert p.stages is not None
    trust = float(sc.get("uncertainties.initial_trust").mean())
    x = ts * (trust - 0.5) + ms
    w = p.stages.transitions * np.exp(x * p.stages.closeness)
    want = w / w.sum(axis=1, keepdims=True)
    assert not np.allclose(want, p.stages.transitions, atol=0.02)  # the shift matters
    moves = vc.simulate(sc, 3, seed=77).stage_transitions.values.sum(axis=0)
    n = moves.sum(axis=1, keepdims=True)
    freq = moves / n
    se = np.sqrt(want * (1 - want) / n)
    assert np.all(np.abs(freq - want) <= 4 * se + 1e-12), (freq, want)
    assert np.all(moves[want == 0] == 0)


def test_neutral_stages_leave_every_other_number_unchanged() -> None:
    """Stages on with neutral effects (no end column, identity moves, factors 1, margin 0) draw only
    from their own mechanism: every output the run had without stages is bit for bit the same."""
    off = tiny(**{"outputs.relationship_detail": 3})
    on = off.with_values(
        {"stages.enabled": True, "stages.names": ["one", "two"], "stages.transitions": [[1.0, 0.0], [0.0, 1.0]]}
    )
    a, b = vc.simulate(off, 3, seed=5), vc.simulate(on, 3, seed=5)
    assert set(b.data_vars) - set(a.data_vars) == {"stage_share", "stage_transitions", "initial_stage", "final_stage"}
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    assert (b.stage_share.sel(stage="one") == 1).all()
    assert (b.final_stage.values[b.acquired_period.values >= 0] == 0).all()


def test_a_stage_factor_is_a_factor_on_the_margin_and_on_cost_to_serve() -> None:
    """One stage with margin factor f scales every relationship's value by f exactly (no service or
    acquisition cost, so the value is all margin); its cost-to-serve factor g is the same cost as a
    business model's cost_to_serve_factor g (docs/model.md: (g - 1)(1 - tax) revenue C (1 + a_c A))."""
    base = tiny(
        **{
            "choices.business_models.0.service_cost": 0.0,
            "acquisition.acquisition_cost": 0.0,
            "outputs.relationship_detail": 3,
        }
    )
    one = {"stages.enabled": True, "stages.names": ["only", "never"], "stages.transitions": [[1.0, 0.0], [0.0, 1.0]]}
    plain = vc.simulate(base, 3, seed=9).relationship_value.values
    scaled = vc.simulate(base.with_values({**one, "stages.margin_factor": [0.6, 1.0]}), 3, seed=9)
    np.testing.assert_allclose(scaled.relationship_value.values, 0.6 * plain, rtol=1e-12, equal_nan=True)
    g = 1.7
    staged = vc.simulate(base.with_values({**one, "stages.cost_to_serve_factor": [g, 1.0]}), 3, seed=9)
    model = vc.simulate(base.with_values({"choices.business_models.0.cost_to_serve_factor": g}), 3, seed=9)
    np.testing.assert_allclose(staged.relationship_value.values, model.relationship_value.values, rtol=1e-9)
    assert np.nanmax(np.abs(staged.relationship_value.values - plain)) > 0


def test_stage_exits_count_as_churn_and_keep_the_books_balanced() -> None:
    """Active relationships at the end of a period are those of the previous period plus the new ones
    minus the churned (retention's and the stages' ends together); shares sum to 1."""
    sc = vc.load_scenario(SCENARIOS / "classroom_stages.toml").with_values(
        {"horizon.periods": 8, "outputs.relationship_detail": 2}
    )
    ds = vc.simulate(sc, 3, seed=3)
    active = ds.customers_active.values
    before = np.concatenate([np.full((3, 1), sc.get("customers.count")), active[:, :-1]], axis=1)
    np.testing.assert_array_equal(active, before + ds.acquired.values - ds.churned.values)
    np.testing.assert_allclose(ds.stage_share.sum("stage").values, 1.0, rtol=1e-12)
    assert ds.stage_transitions.sel(stage_to="ended").sum() > 0
    assert list(ds.stage_to.values) == [*sc.get("stages.names"), "ended"]


def test_results_are_the_same_whatever_the_batching() -> None:
    sc = vc.load_scenario(SCENARIOS / "classroom_stages.toml").with_values(
        {"horizon.periods": 6, "customers.count": 80, "outputs.relationship_detail": 5}
    )
    a = vc.simulate(sc, 5, seed=8, batch_size=1)
    b = vc.simulate(sc, 5, seed=8, batch_size=5)
    assert a.identical(b)


def test_the_partners_policy_serves_relationships_in_the_partner_stage_with_its_model() -> None:
    n = 6
    stage = np.array([[0, 1, 2, 2, 1, 0]], dtype=np.int8)
    fields = {
        "period": 5,
        "periods_per_year": 4,
        "active": np.array([[True] * 5 + [False]]),
        "observed_profit": np.arange(n, dtype=float)[None, :],
        "revenue": np.ones((1, n)),
        "price": np.ones((1, n)),
        "cost_to_serve": np.ones((1, n)),
        "trust": np.ones((1, n)),
        "share_of_wallet": np.ones((1, n)),
        "adaptation": np.ones((1, n)),
        "age": np.ones((1, n)),
        "segment": np.zeros((1, n), dtype=np.int16),
        "growth": np.zeros((1, n)),
        "customer_view": np.full((1, n), np.nan),
        "business_model": np.zeros((1, n), dtype=np.int16),
        "business_models": (
            {"name": "lean", "service_cost": 100.0, "quality": 0.4, "needs_manager": False},
            {"name": "key", "service_cost": 9000.0, "quality": 0.9, "needs_manager": True},
        ),
        "account_capacity": np.array([10]),
        "insight_level": np.array([1.0]),
        "platform_level": np.array([0.0]),
        "account_managers": np.array([1]),
    }
    staged = make_view(**fields, stage=stage, stage_names=("acquaintance", "friend", "partner"))
    got = PartnersPolicy(partner_stage="partner", top_share=0.0, middle_share=0.0).decide(staged)
    np.testing.assert_array_equal(got, [[0, 0, 1, 1, 0, 0]])
    assert np.array_equal(staged.in_stage("partner"), stage == 2)
    with pytest.raises(ValueError, match="unknown stage 'commitment'; stages: acquaintance, friend, partner"):
        PartnersPolicy().decide(staged)
    plain = make_view(**fields)  # stages off: nobody is a partner, the tiered rule alone
    np.testing.assert_array_equal(PartnersPolicy(top_share=0.0, middle_share=0.0).decide(plain), [[0] * n])


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"stages.transitions": [[0.5, 0.4, 0.0, 0.0, 0.0]] * 4}, "stages.transitions[0]", "must sum to 1"),
        ({"stages.transitions": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]}, "stages.transitions", "one row per stage"),
        (
            {"stages.transitions": [[1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]},
            "stages.transitions[1]",
            "the same in every row",
        ),
        ({"stages.transitions": [[1.5, -0.5, 0, 0]] * 4}, "stages.transitions[0][0]", "numbers in [0, 1]"),
        ({"stages.margin_factor": [1.0, 2.0]}, "stages.margin_factor", "one number per stage (4), got 2"),
        ({"stages.initial": [0, 0, 0, 0]}, "stages.initial", "positive sum"),
        ({"stages.model_shift": {"premium": 1.0}}, "stages.model_shift.premium", "unknown business model"),
        ({"stages.names": ["only"]}, "stages.names", "2 to 32 stages"),
    ],
)
def test_a_bad_stages_table_is_one_line_naming_the_field(values: dict, field: str, message: str) -> None:
    with pytest.raises(ScenarioError) as err:
        tiny(**values)
    assert err.value.field == field and message in str(err.value) and "\n" not in str(err.value)


def test_money_scales_the_stage_margins() -> None:
    sc = chain(**{"customers.count": 300, "horizon.periods": 10})
    a = vc.simulate(sc, 2, seed=4)
    b = vc.simulate(sc.scale_money(3.0), 2, seed=4)
    np.testing.assert_allclose(b.relationship_value.values, 3.0 * a.relationship_value.values, rtol=1e-12)


def test_a_run_writes_the_stages_and_their_figure(tmp_path: Path) -> None:
    r = inproc(
        "run", str(SCENARIOS / "classroom_stages.toml"), "--replications", "4", "--seed", "2", "--out", str(tmp_path),
        "--set", "horizon.periods=6", "--set", "customers.count=60", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    folder = tmp_path / "classroom_stages"
    ds = vc.open_run(folder)
    assert ds.stage_share.dims == ("replication", "period", "stage")
    assert list(ds.stage.values) == ["exploration", "expansion", "commitment", "dissolution"]
    assert ds.stage_transitions.sizes["stage_to"] == 5
    assert (folder / "figures" / "stage_shares.png").is_file()
