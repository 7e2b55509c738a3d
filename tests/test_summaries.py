"""The heterogeneity summaries where a replication's relationships destroy more value than they
create (issue 20): the Stobachoff peak and the top-20% share are fractions of a positive total,
NaN otherwise, alike in the engine's per-replication outputs and the analysis functions; and
the per-relationship detail marks slots never filled alike (-1 periods active, -1 acquired, NaN
value)."""

from __future__ import annotations

import numpy as np
from conftest import tiny

import valuecapture as vc
from valuecapture.analysis.heterogeneity import relationship_stats, stobachoff_curve, top_share
from valuecapture.model.batch import heterogeneity_summary


def test_fractions_of_a_negative_or_zero_total_are_nan() -> None:
    values = np.array([[50.0, -10.0, 30.0, 20.0, -40.0], [10.0, -60.0, 5.0, 0.0, 0.0], [10.0, -10.0, 0.0, 0.0, 0.0]])
    ever = np.array([[True] * 5, [True, True, True, False, False], [True, True, False, False, False]])
    out = heterogeneity_summary(values, ever)
    assert out["stobachoff_peak"][0] == 2.0 and out["top20_share"][0] == 50.0 / 50.0
    for row in (1, 2):  # total -45 and 0
        assert np.isnan(out["stobachoff_peak"][row]) and np.isnan(out["top20_share"][row])
        assert out["value_created"][row] > 0 and out["value_destroyed"][row] > 0  # still reported
        assert out["stobachoff_index"][row] == out["value_destroyed"][row] / out["value_created"][row]
    masked = np.where(ever, values, np.nan)
    stats = relationship_stats(masked)
    assert np.isnan(stats["relationship_value_top20"][1:]).all() and stats["relationship_value_top20"][0] == 1.0
    for row in (1, 2):
        assert np.isnan(stobachoff_curve(masked[row]).peak) and np.isnan(top_share(masked[row]))


def test_slots_never_filled_are_marked_alike_in_the_detail() -> None:
    ds = vc.simulate(tiny(**{"outputs.relationship_detail": 2}), replications=2, seed=4)
    never = ds["acquired_period"].values == -1
    assert never.any() and (~never).any()
    assert (ds["periods_active"].values[never] == -1).all()
    assert np.isnan(ds["relationship_value"].values[never]).all()
    assert (ds["periods_active"].values[~never] >= 0).all()
