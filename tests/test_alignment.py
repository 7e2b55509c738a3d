"""Two-sided portfolios: portfolio models, alignment, interaction spaces, legitimacy."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from conftest import three_models

import valuecapture as vc
from valuecapture.model.policies import BasePolicy, PortfolioPolicy, SinglePolicy
from valuecapture.model.portfolio_models import BUILTIN, get_portfolio_model
from valuecapture.run.batch import run_batch
from valuecapture.run.policy_check import check_policy

#: Every alignment effect off: the module tracks views but changes nothing.
EFFECTS_OFF = {
    "alignment.trust_effect": 0.0,
    "alignment.churn_effect": 0.0,
    "alignment.sow_effect": 0.0,
    "alignment.waste": 0.0,
    "alignment.downgrade_trust_loss": 0.0,
}
REVIEW_ALL = [
    {"name": "account_review", "cadence": 1, "cost_per_contact": 500.0, "p_align": 0.5, "step": 0.4, "trust_boost": 0.0}
]


def aligned(**values: Any) -> vc.Scenario:
    base = {"alignment.enabled": True, "choices.policy": "single", "customers.count": 120}
    base.update(values)
    return three_models(**base)


# ---------------------------------------------------------------- classifiers


def _view(**arrays: Any) -> SimpleNamespace:
    n = len(next(iter(arrays.values())))
    base = {"active": np.ones((1, n), dtype=bool), "periods_per_year": 4}
    base.update({k: np.asarray(v, dtype=float)[None, :] for k, v in arrays.items()})
    return SimpleNamespace(**base)


def test_shapiro_quadrants() -> None:
    """High price & high cost = carriage trade; high price, low cost = passive; low price,
    high cost = aggressive; low, low = bargain basement (Shapiro et al. 1987, Exhibit 1)."""
    v = _view(price=[1.2, 1.2, 0.8, 0.8], cost_to_serve=[0.3, 0.05, 0.3, 0.05])
    m = get_portfolio_model("shapiro")
    assert [m.classes[c] for c in m.classify(v)[0]] == ["carriage_trade", "passive", "aggressive", "bargain_basement"]


def test_krapfel_partner_friend_rival_acquaintance() -> None:
    v = _view(observed_profit=[9e4, 1e3, 9e4, 1e3], trust=[0.8, 0.8, 0.2, 0.2])
    m = get_portfolio_model("krapfel")
    assert [m.classes[c] for c in m.classify(v)[0]] == ["partner", "friend", "rival", "acquaintance"]


def test_turnbull_three_dimensions() -> None:
    v = _view(price=[1.2, 0.8, 1.2, 0.8], cost_to_serve=[0.05, 0.3, 0.3, 0.05], observed_profit=[5e4, -1e3, -1e3, 5e4])
    m = get_portfolio_model("turnbull")
    names = [m.classes[c] for c in m.classify(v)[0]]
    assert names == [
        "high_price_low_cost_high_value",
        "low_price_high_cost_low_value",
        "high_price_high_cost_low_value",
        "low_price_low_cost_high_value",
    ]
    assert m.importance[m.classes.index(names[0])] == 1.0 and m.importance[m.classes.index(names[1])] == 0.0


def test_fiocca_two_steps() -> None:
    """Step 1 splits by importance (revenue) and difficulty (cost to serve); step 2 only the
    key accounts, by relationship strength (trust) and business attractiveness (growth)."""
    v = _view(
        revenue=[9, 8, 7, 6, 1, 2, 1.5, 0.5],
        cost_to_serve=[0.1, 0.1, 0.1, 0.1, 0.4, 0.01, 0.4, 0.01],
        trust=[0.9, 0.9, 0.3, 0.3, 0.9, 0.9, 0.1, 0.1],
        growth=[0.05, -0.02, 0.05, -0.02, 0.05, 0.05, -0.1, -0.1],
    )
    m = get_portfolio_model("fiocca")
    assert [m.classes[c] for c in m.classify(v)[0]] == [
        "key_strong_attractive",
        "key_strong_unattractive",
        "key_weak_attractive",
        "key_weak_unattractive",
    ] + ["nonkey_difficult", "nonkey_easy"] * 2


def test_campbell_life_cycle() -> None:
    v = _view(age=[2, 20, 20, 20], revenue=[1, 9, 8, 1])  # quarters; 2 years = 8 quarters
    m = get_portfolio_model("campbell")
    assert [m.classes[c] for c in m.classify(v)[0]] == ["tomorrows", "todays", "todays", "yesterdays"]


def test_kraljic_customer_side() -> None:
    v = SimpleNamespace(purchase_importance=np.array([0.9, 0.9, 0.1, 0.1]), supply_risk=np.array([0.9, 0.1, 0.9, 0.1]))
    m = get_portfolio_model("kraljic")
    assert [m.classes[c] for c in m.classify(v)] == ["strategic", "leverage", "bottleneck", "routine"]


def test_class_shares_sum_to_one() -> None:
    ds = vc.simulate(aligned(**{"portfolio.track": True, "choices.policy": "tiered"}), 3, 2)
    counts = ds["portfolio_class_count"]
    for model in BUILTIN:
        share = (
            counts.sel(portfolio_class=counts["portfolio_model"] == model).sum("portfolio_class")
            / ds["customers_active"]
        )
        np.testing.assert_allclose(share, 1.0, rtol=0, atol=1e-12)
    tr = ds["portfolio_transitions"]
    assert int(tr.sum()) > 0
    cross = tr.sel(portfolio_class=tr["portfolio_model"] == "shapiro").sel(
        portfolio_class_to=[c for c in tr["portfolio_class_to"].values if not c.startswith("shapiro")]
    )
    assert int(cross.sum()) == 0


# ---------------------------------------------------------------- switching off


def test_alignment_with_effects_off_equals_a_run_without_it_bit_for_bit() -> None:
    sc = three_models(**{"choices.policy": "adaptive"})
    plain = vc.simulate(sc, 4, 9)
    tracked = vc.simulate(sc.with_values({"alignment.enabled": True, **EFFECTS_OFF}), 4, 9)
    assert "mean_misalignment" in tracked and "mean_misalignment" not in plain
    for name in plain.data_vars:
        assert plain[name].identical(tracked[name]), name


# ---------------------------------------------------------------- dynamics


def _misalignment_change(ds: vc.Scenario | Any) -> tuple[float, float]:
    """Mean over replications of (mean misalignment in the last 2 periods - in period 1), and its s.e."""
    m = ds["mean_misalignment"].values
    d = m[:, -2:].mean(axis=1) - m[:, 0]
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


def test_misalignment_does_not_improve_without_interaction_spaces_and_does_with_them() -> None:
    """A closed cohort (no acquisition, misalignment does not affect churn, so no selection)
    under one business model.  Without interaction spaces the customers' views drift around
    their structural level: the change of mean misalignment is not significantly negative
    (> -3 s.e.).  With a quarterly account review for everyone it falls by more than 3 s.e.,
    and the reviews are paid for (contacts x cost per contact, lowering firm value)."""
    closed = {
        "acquisition.prospects_per_year": 0.0,
        "acquisition.referral_rate": 0.0,
        "alignment.churn_effect": 0.0,
        "horizon.periods": 12,
    }
    without = vc.simulate(aligned(**closed), 30, 3)
    with_spaces = vc.simulate(aligned(**closed, interactions=REVIEW_ALL), 30, 3)
    d0, se0 = _misalignment_change(without)
    d1, se1 = _misalignment_change(with_spaces)
    assert d0 > -3 * se0, (d0, se0)
    assert d1 < -3 * se1, (d1, se1)
    np.testing.assert_allclose(with_spaces["interaction_cost"], 500.0 * with_spaces["interaction_contacts"])
    assert (with_spaces["interaction_contacts"] > 0).all()
    assert float(with_spaces["pv_firm_costs"].mean()) > float(without["pv_firm_costs"].mean())


class _DowngradeAt(BasePolicy):
    """Standard for everyone, transactional for everyone from the review in ``period`` on."""

    def __init__(self, period: int = 3):
        self.period = period

    def decide(self, view: Any) -> np.ndarray:
        return np.full(view.shape, 2 if view.period >= self.period else 0, dtype=np.int16)


def test_an_explained_downgrade_loses_less_trust_than_an_unexplained_one() -> None:
    """Same seed, same interaction space (everyone, every period); the only difference is
    whether a contact makes the downgrade legitimate.  Trust falls by
    loss x (t_old - t_new) x (1 - legitimacy) when explained, loss x (t_old - t_new) when not:
    here 0.2 x 0.5 x 0.7 = 0.07 more trust is kept, exactly, in the downgrade period."""
    sc = aligned(
        **{
            "alignment.downgrade_trust_loss": 0.2,
            "capabilities.review_interval": 1,
            "acquisition.prospects_per_year": 0.0,
            "acquisition.referral_rate": 0.0,
        },
        interactions=REVIEW_ALL,
    )
    explained = run_batch(sc.with_values({"alignment.legitimacy": 0.7}), 5, 0, 3, policy=_DowngradeAt(3))
    unexplained = run_batch(sc.with_values({"alignment.legitimacy": 0.0}), 5, 0, 3, policy=_DowngradeAt(3))
    np.testing.assert_array_equal(explained["mean_trust"][:, :2], unexplained["mean_trust"][:, :2])
    np.testing.assert_allclose(
        explained["mean_trust"][:, 2] - unexplained["mean_trust"][:, 2], 0.2 * 0.5 * 0.7, rtol=1e-9
    )
    # on average: in a single replication the kept trust can also keep a value-destroying customer
    assert explained["firm_value"].mean() > unexplained["firm_value"].mean()


def test_a_contact_is_what_makes_a_downgrade_legitimate() -> None:
    """Without any interaction space nothing is explained: legitimacy changes nothing."""
    sc = aligned(**{"alignment.downgrade_trust_loss": 0.2, "capabilities.review_interval": 1})
    a = run_batch(sc.with_values({"alignment.legitimacy": 0.7}), 5, 0, 2, policy=_DowngradeAt(3))
    b = run_batch(sc.with_values({"alignment.legitimacy": 0.0}), 5, 0, 2, policy=_DowngradeAt(3))
    np.testing.assert_array_equal(a["firm_value"], b["firm_value"])


def test_misalignment_costs_value() -> None:
    """The same world with alignment effects on is worth less than with them off (same seed)."""
    on = vc.simulate(aligned(), 6, 4)
    off = vc.simulate(aligned(**EFFECTS_OFF), 6, 4)
    assert (on["firm_value"] < off["firm_value"]).all()


# ---------------------------------------------------------------- policies


def test_portfolio_policy_uses_portfolio_models_and_invests_in_interaction_spaces() -> None:
    check_policy(PortfolioPolicy)
    sc = aligned(
        interactions=[dict(REVIEW_ALL[0], models=["key_account"])],
        **{"capabilities.review_interval": 1, "capabilities.account_managers": 100},
    )
    by_models = run_batch(sc, 1, 0, 2, policy=PortfolioPolicy("turnbull"))
    invited = run_batch(sc, 1, 0, 2, policy=PortfolioPolicy("turnbull", reviews="account_review"))
    # the policy invites every active relationship from its first review on; the space alone only key accounts
    np.testing.assert_array_equal(invited["interaction_contacts"][:, 1:], invited["customers_active"][:, :-1])
    assert (invited["interaction_contacts"][:, 1:] > by_models["interaction_contacts"][:, 1:]).all()
    assert (invited["customers_by_model"][:, -1, :] > 0).sum(axis=1).min() >= 2


def test_customer_view_is_known_only_after_a_contact() -> None:
    seen: list[Any] = []

    class Look(SinglePolicy):
        def decide(self, view: Any) -> Any:
            seen.append((view.period, np.isfinite(view.customer_view[view.active]).mean()))
            return super().decide(view)

    sc = aligned(
        interactions=[dict(REVIEW_ALL[0], cadence=2)],
        **{"capabilities.review_interval": 1, "alignment.legitimacy_window": 1},
    )
    run_batch(sc, 1, 0, 1, policy=Look())
    known = dict(seen)
    assert known[1] == 0.0 and known[2] == 0.0  # first contact at the end of period 2
    assert known[3] > 0.9 and known[4] == 0.0  # within the window in period 3, forgotten in 4


@pytest.mark.parametrize(
    "values, field",
    [
        ({"interactions": REVIEW_ALL}, "interactions"),
        ({"alignment.enabled": True, "interactions": [dict(REVIEW_ALL[0], models=["nope"])]}, "interactions[0].models"),
        ({"alignment.enabled": True, "alignment.kraljic_levels": [1.0, 0.5]}, "alignment.kraljic_levels"),
        ({"alignment.enabled": True, "alignment.sales_model": "kraljic"}, "alignment.sales_model"),
        ({"portfolio.track": True}, "portfolio.models"),
        ({"portfolio.models": ["bcg"]}, "portfolio.models"),
        ({"alignment.enabled": True, "interactions": [dict(REVIEW_ALL[0], p_align=1.5)]}, "interactions[0].p_align"),
    ],
)
def test_impossible_alignment_settings_are_rejected(values: dict[str, Any], field: str) -> None:
    """By the scenario's validation, or (names of portfolio models) by the model's check before any run."""
    from valuecapture.model.validate import check_scenario

    with pytest.raises(vc.ScenarioError) as err:
        check_scenario(three_models(**values))
    assert err.value.field == field and "\n" not in str(err.value)
