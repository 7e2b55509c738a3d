"""Business models, capabilities, the policy contract, the registry and `compare`."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, THREE_MODELS, steady, three_models
from hypothesis import given, settings
from hypothesis import strategies as st

import valuecapture as vc
from valuecapture.analysis.compare import compare, paired_differences
from valuecapture.model.business_models import complexity_cost
from valuecapture.model.policies import BUILTIN, BasePolicy, Decision, SinglePolicy, get_policy
from valuecapture.run.batch import run_batch
from valuecapture.run.policy_check import check_policy
from valuecapture.scenario.business import internal_fit

PY = sys.executable


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "valuecapture", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_passes_check_policy(name: str) -> None:
    check_policy(BUILTIN[name])


class _LogicInInit(BasePolicy):
    def __init__(self, share: float = 0.1):
        self.share = share * 2  # not stored unchanged


class _ModifiesView(BasePolicy):
    def __init__(self) -> None:
        pass

    def decide(self, view: Any) -> np.ndarray:
        view.trust[...] = 0.0  # raises: the view is read-only
        return np.zeros(view.shape, dtype=np.int16)


class _Random(BasePolicy):
    def __init__(self) -> None:
        pass

    def decide(self, view: Any) -> np.ndarray:
        return np.random.default_rng().integers(0, view.n_business_models, view.shape).astype(np.int16)


def test_check_policy_rejects_contract_breaches() -> None:
    with pytest.raises(AssertionError, match="round-trip"):
        check_policy(_LogicInInit)
    with pytest.raises(ValueError, match="read-only"):
        check_policy(_ModifiesView)
    with pytest.raises(AssertionError, match="different decisions"):
        check_policy(_Random)


def test_bad_decisions_are_reported() -> None:
    class OutOfRange(BasePolicy):
        def __init__(self) -> None:
            pass

        def decide(self, view: Any) -> np.ndarray:
            return np.full(view.shape, 7, dtype=np.int16)

    with pytest.raises(ValueError, match="outside 0..2"):
        run_batch(three_models(), 1, 0, 1, policy=OutOfRange())


# ---------------------------------------------------------------- business models


def test_internal_fit_is_high_for_consistent_models_and_low_for_mixed_ones() -> None:
    key_account = {
        "adaptation": 0.9,
        "price_factor": 1.2,
        "quality": 0.9,
        "channel": "key_account_team",
        "account_management": 1.0,
        "capital_intensity": 0.3,
        "platform": "dedicated",
    }
    lean = {
        "adaptation": 0.0,
        "price_factor": 0.8,
        "quality": 0.1,
        "channel": "e_channel",
        "account_management": 0.0,
        "capital_intensity": 0.0,
        "platform": "standard",
    }
    mixed = dict(key_account, channel="e_channel", account_management=0.0, platform="standard")
    assert internal_fit(key_account) > 0.9 and internal_fit(lean) > 0.9
    assert internal_fit(mixed) < 0.5


def test_misfit_raises_cost_and_lowers_quality() -> None:
    fitted = three_models()
    misfit = three_models(
        **{
            "choices.business_models": [dict(THREE_MODELS[0], channel="e_channel", platform="dedicated")]
            + THREE_MODELS[1:]
        }
    )
    from valuecapture.model.params import ModelParams

    a, b = ModelParams.from_scenario(fitted).business_models, ModelParams.from_scenario(misfit).business_models
    assert b.fit[0] < a.fit[0]
    assert b.cost_to_serve_factor[0] > a.cost_to_serve_factor[0] and b.quality[0] < a.quality[0]
    assert vc.simulate(misfit, 6, 2)["firm_value"].mean() < vc.simulate(fitted, 6, 2)["firm_value"].mean()


class _ByModulo(BasePolicy):
    """Slot i gets business model i mod k (k models in use)."""

    def __init__(self, k: int = 3):
        self.k = k

    def decide(self, view: Any) -> np.ndarray:
        return (np.arange(view.shape[1])[None, :] % self.k + np.zeros(view.shape, dtype=np.int64)).astype(np.int16)


def test_complexity_cost_grows_with_k_as_configured() -> None:
    c1, b = 100000.0, 0.35
    assert complexity_cost(1, c1, b) == 0.0
    np.testing.assert_allclose(complexity_cost(np.arange(2, 6), c1, b), c1 * np.arange(2, 6) ** b, rtol=1e-14)
    np.testing.assert_allclose(
        complexity_cost(3, c1, b, platform_level=0.5, platform_effect=0.4), c1 * 3**b * 0.8, rtol=1e-14
    )
    # in the engine: K models in use cost C1 K^b a year, every period (capacity large enough for all)
    sc = three_models(
        **{
            "capabilities.account_managers": 100,
            "capabilities.platform_level": 0.0,
            "business.complexity_exponent": b,
            "business.complexity_cost": c1,
        }
    )
    dt = 0.25
    costs = []
    for k in (1, 2, 3):
        out = run_batch(sc, 4, 0, 2, policy=_ByModulo(k))
        counts = out["customers_by_model"]
        assert ((counts > 0).sum(axis=2) == k).all()
        np.testing.assert_allclose(out["complexity_cost"], 0.0 if k == 1 else c1 * dt * k**b, rtol=1e-13)
        costs.append(out["pv_complexity_cost"])
    assert (costs[0] < costs[1]).all() and (costs[1] < costs[2]).all()


def test_value_by_model_adds_up_to_value_capture() -> None:
    ds = vc.simulate(three_models(**{"choices.policy": "tiered"}), 6, 3)
    np.testing.assert_allclose(ds["value_by_model"].sum("business_model"), ds["value_capture"], rtol=1e-9)
    assert (np.abs(ds["value_by_model"]) > 0).all()
    np.testing.assert_array_equal(
        ds["customers_by_model"].sum("business_model"), ds["customers_active"] + ds["churned"]
    )


# ---------------------------------------------------------------- capabilities


@settings(max_examples=12, deadline=None)
@given(managers=st.integers(0, 3), per_manager=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_account_manager_capacity_is_never_exceeded(managers: int, per_manager: int, seed: int) -> None:
    """Everyone is asked for the key-account model; at most managers x accounts are served by it."""
    sc = three_models(
        **{
            "capabilities.account_managers": managers,
            "capabilities.accounts_per_manager": per_manager,
            "capabilities.review_interval": 1,
        }
    )
    out = run_batch(sc, seed, 0, 2, policy=SinglePolicy(model="key_account"))
    key = out["customers_by_model"][:, :, 1]
    assert key.max() <= managers * per_manager
    assert (key.max() > 0) == (managers > 0)


class _HireManagers(BasePolicy):
    """Key account for everyone; from the second review on, more account managers."""

    def __init__(self, managers: int = 4):
        self.managers = managers

    def decide(self, view: Any) -> Decision:
        caps = {"account_managers": self.managers} if view.period > 1 else {}
        return Decision(np.ones(view.shape, dtype=np.int16), caps)


def test_capability_investment_raises_capacity_and_spend() -> None:
    sc = three_models(**{"capabilities.account_managers": 1, "capabilities.accounts_per_manager": 5})
    out = run_batch(sc, 2, 0, 2, policy=_HireManagers(4))
    key = out["customers_by_model"][:, :, 1]
    assert key[:, :2].max() <= 5 and key[:, 2:].max() == 20
    manager = sc.get("capabilities.manager_cost") * 0.25
    insight = sc.get("capabilities.insight_level") * sc.get("capabilities.insight_cost") * 0.25
    np.testing.assert_allclose(out["capability_spend"][:, 0], insight + manager)
    np.testing.assert_allclose(out["capability_spend"][:, 3], insight + 4 * manager)


class _Capture(BasePolicy):
    def __init__(self) -> None:
        pass

    views: list[Any] = []

    def decide(self, view: Any) -> np.ndarray:
        type(self).views.append((view.period, view.observed_profit.copy(), view.active.copy()))
        return np.zeros(view.shape, dtype=np.int16)


def test_insight_level_sets_noise_and_lag_of_observed_profit() -> None:
    """Full insight sees last period's economic profit exactly; none sees it lagged and noisy."""
    sc = steady(
        **{
            "uncertainties.churn": {"dist": "fixed", "value": 0.0},
            "capabilities.review_interval": 1,
            "horizon.periods": 4,
            "demand.volatility": 0.2,
        }
    )
    _Capture.views = []
    run_batch(sc.with_values({"capabilities.insight_level": 1.0}), 5, 0, 1, policy=_Capture())
    full = {p: o for p, o, _ in _Capture.views}
    _Capture.views = []
    run_batch(
        sc.with_values(
            {"capabilities.insight_level": 0.0, "capabilities.insight_lag": 2, "capabilities.insight_noise": 0.5}
        ),
        5,
        0,
        1,
        policy=_Capture(),
    )
    none = {p: o for p, o, _ in _Capture.views}
    n = sc.get("customers.count")
    assert (full[1][0, :n] == 0).all() and (none[3][0, :n] == 0).all()  # nothing observed yet
    assert np.all(full[2][0, :n] != 0)
    ratio = none[4][0, :n] / full[2][0, :n]  # period 4 sees period 1's profit (lag 2), with 50% noise
    assert 0.3 < ratio.std() < 0.7 and abs(ratio.mean() - 1) < 4 * 0.5 / math.sqrt(n)


# ---------------------------------------------------------------- registry


def _write_plugin(folder: Path) -> None:
    pkg = folder / "vc_test_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent('''
        import numpy as np
        from valuecapture.model.policies import BasePolicy

        class AlwaysLean(BasePolicy):
            """Test plugin: every relationship in the leanest business model."""

            def __init__(self, note: str = "lean"):
                self.note = note

            def decide(self, view):
                return np.full(view.shape, view.richest_to_leanest()[-1], dtype=np.int16)
    ''')
    )
    dist = folder / "vc_test_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vc-test-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[valuecapture.model.policies]\nalways_lean = vc_test_plugin:AlwaysLean\n")


def test_entry_point_policy_is_found_by_name_and_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    cls = get_policy("always_lean")
    check_policy(type(cls))
    ds = vc.simulate(three_models(**{"choices.policy": "always_lean"}), 3, 1)
    share = ds["customers_by_model"].sel(business_model="transactional") / ds["customers_by_model"].sum(
        "business_model"
    )
    assert float(share.min()) == 1.0
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    listing = cli("policies", cwd=tmp_path, env=env)
    assert listing.returncode == 0
    assert re.search(
        r"^always_lean\s+Test plugin: every relationship in the leanest business model\.\s+\[from vc_test_plugin\]$",
        listing.stdout,
        re.M,
    ), listing.stdout
    r = cli(
        "compare",
        str(ROOT / "scenarios" / "baseline.toml"),
        "--policies",
        "single,always_lean",
        "-n",
        "2",
        "--set",
        "customers.count=100",
        "--set",
        "horizon.periods=4",
        "--no-figures",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "always_lean" in r.stdout


def test_unknown_policy_lists_the_known_ones_exit_2(tmp_path: Path) -> None:
    r = cli(
        "compare",
        str(ROOT / "scenarios" / "classroom.toml"),
        "--policies",
        "single,nonesuch",
        "-n",
        "2",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "unknown policy 'nonesuch'; known: single, tiered, matrix, adaptive, harvest" in r.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- compare


def test_compare_of_a_policy_with_itself_is_exactly_zero() -> None:
    ds = compare(three_models(), ["adaptive", "adaptive"], 8, 4)
    assert list(ds["policy"].values) == ["adaptive", "adaptive#2"]
    d = ds["firm_value"].sel(policy="adaptive").values - ds["firm_value"].sel(policy="adaptive#2").values
    assert (d == 0).all()
    (pair,) = paired_differences(ds)
    assert pair.mean == 0 and pair.ci_low == 0 and pair.ci_high == 0 and pair.p_a_beats_b == 0


def test_common_random_numbers_reduce_the_standard_error() -> None:
    """SE of the paired difference single - tiered: same seed (CRN) vs independent seeds.

    Measured (100 replications, seed 11): sd 0.41m with CRN vs 2.78m with independent
    seeds, ratio 0.15.  The log of a ratio of two sample sds has standard error about
    sqrt(2 / (2 (n - 1))) = 0.10 (normal approximation); the test asserts that the ratio's
    upper 3-SE bound, ratio x exp(0.30), is below 1 (at 0.15 it is 0.20).
    """
    n = 100
    sc = three_models(**{"customers.count": 120})
    crn = compare(sc, ["single", "tiered"], n, 11)
    other = compare(sc, ["tiered"], n, 12)
    single = crn["firm_value"].sel(policy="single").values
    sd_crn = np.std(single - crn["firm_value"].sel(policy="tiered").values, ddof=1)
    sd_ind = np.std(single - other["firm_value"].sel(policy="tiered").values, ddof=1)
    ratio = sd_crn / sd_ind
    se_log = math.sqrt(2.0 / (2 * (n - 1)))
    assert ratio * math.exp(3 * se_log) < 1.0, ratio


def test_compare_cli_writes_one_dataset_with_a_policy_dimension(tmp_path: Path) -> None:
    r = cli(
        "compare",
        str(ROOT / "scenarios" / "baseline.toml"),
        "--policies",
        "single,tiered,harvest",
        "-n",
        "4",
        "--seed",
        "7",
        "--set",
        "customers.count=150",
        "--set",
        "horizon.periods=8",
        "--out",
        str(tmp_path),
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    for needle in (
        "Firm value by policy",
        "single - tiered",
        "P(A>B)",
        "Ranking by mean firm value",
        "Share of active relationships",
    ):
        assert needle in r.stdout
    run = tmp_path / "baseline-compare"
    ds = vc.open_run(run)
    assert ds["firm_value"].dims == ("policy", "replication")
    assert ds["customers_by_model"].dims == ("policy", "replication", "period", "business_model")
    for name in ("capability_spend", "complexity_cost", "value_by_model"):
        assert "policy" in ds[name].dims and ds[name].attrs["units"]
    assert ds.attrs["policies"] == '["single", "tiered", "harvest"]'
    for fig in ("firm_value_by_policy.png", "paired_differences.png", "business_model_mix.png"):
        assert (run / "figures" / fig).stat().st_size > 10_000
    shown = cli("show", str(run), cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.strip() == (run / "summary.txt").read_text().strip()
    again = cli("reproduce", str(run), "--out", str(tmp_path / "again"), "--no-figures", "-q", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert vc.open_run(tmp_path / "again" / "baseline-compare")["firm_value"].identical(ds["firm_value"])


# ---------------------------------------------------------------- docs


def test_docs_policies_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ```python block of docs/policies.md runs, in order, from the repository root."""
    text = (ROOT / "docs" / "policies.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    monkeypatch.chdir(ROOT)
    namespace: dict[str, Any] = {"__name__": "docs_policies"}
    exec(compile("\n".join(blocks), "docs/policies.md", "exec"), namespace)  # our own documentation, not user input
