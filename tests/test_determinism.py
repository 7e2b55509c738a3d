"""Same scenario + same seed => bit-identical results, whatever workers, executor or batch size."""

from __future__ import annotations

import numpy as np
from conftest import three_models, tiny

import valuecapture as vc


def test_identical_for_workers_and_batch_sizes() -> None:
    sc = tiny(**{"outputs.relationship_detail": 5})
    ref = vc.simulate(sc, replications=12, seed=42, workers=1, batch_size=12)
    for kwargs in (
        {"workers": 1, "batch_size": 1},
        {"workers": 1, "batch_size": 5},
        {"workers": 2, "batch_size": 4, "executor": "process"},
        {"workers": 2, "batch_size": 3, "executor": "threads"},
    ):
        other = vc.simulate(sc, replications=12, seed=42, **kwargs)
        assert ref.identical(other), kwargs


def test_identical_for_workers_with_several_business_models_and_capacity() -> None:
    """The adaptive policy on three business models, account-manager capacity binding and
    noisy customer insight: still bit-identical across batch sizes and workers."""
    sc = three_models(**{"choices.policy": "adaptive", "outputs.relationship_detail": 3})
    ref = vc.simulate(sc, replications=9, seed=5, workers=1, batch_size=9)
    assert int(ref["customers_by_model"].sel(business_model="key_account").max()) > 0
    for kwargs in (
        {"workers": 1, "batch_size": 2},
        {"workers": 2, "batch_size": 4, "executor": "process"},
        {"workers": 2, "batch_size": 2, "executor": "threads"},
    ):
        assert ref.identical(vc.simulate(sc, replications=9, seed=5, **kwargs)), kwargs


def test_replication_depends_only_on_seed_and_number() -> None:
    """Replications 5..7 of a 8-replication run equal replications 5..7 of a 20-replication run."""
    sc = tiny()
    a = vc.simulate(sc, replications=8, seed=3, batch_size=3)
    b = vc.simulate(sc, replications=20, seed=3, batch_size=7)
    for name in ("firm_value", "revenue", "customers_active"):
        np.testing.assert_array_equal(a[name].values[5:8], b[name].values[5:8])


def test_different_seeds_differ() -> None:
    sc = tiny()
    a = vc.simulate(sc, replications=4, seed=1)
    b = vc.simulate(sc, replications=4, seed=2)
    assert not np.array_equal(a["firm_value"].values, b["firm_value"].values)


def test_random_consumption_does_not_depend_on_the_policy_choice() -> None:
    """Two business models that differ only in money: the world (every count, trust and share
    of wallet) is identical whichever model the policy picks; only money differs."""
    models = [{"name": "cheap", "service_cost": 1000.0}, {"name": "dear", "service_cost": 9000.0}]
    a = vc.simulate(tiny(**{"choices.business_models": models}), replications=5, seed=8)
    from valuecapture.model.policies import SinglePolicy
    from valuecapture.run.batch import run_batch

    sc = tiny(**{"choices.business_models": models})
    out0 = run_batch(sc, 8, 0, 5, policy=SinglePolicy(model=0))
    out1 = run_batch(sc, 8, 0, 5, policy=SinglePolicy(model=1))
    for name in ("customers_active", "acquired", "churned", "mean_trust", "mean_share_of_wallet", "customers_ever"):
        np.testing.assert_array_equal(out0[name], out1[name], err_msg=name)
    assert (out1["firm_value"] < out0["firm_value"]).all()
    np.testing.assert_array_equal(a["firm_value"].values, out0["firm_value"])
