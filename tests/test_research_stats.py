"""Monte Carlo statistics, heterogeneity curves and sequential stopping (issue 5)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny
from test_cli import SCENARIOS, vc_cli

import valuecapture as vc
from valuecapture.analysis.heterogeneity import (
    gini,
    lorenz_curve,
    relationship_stats,
    stobachoff_curve,
    top_share,
    whale_curve,
)
from valuecapture.analysis.stats import describe, expected_shortfall, running_mean, wilson_interval
from valuecapture.model.batch import heterogeneity_summary
from valuecapture.run.precision import StoppingRule, precision_met, simulate_to_precision

# ---------------------------------------------------------------------------
# Heterogeneity of relationship value: exact small cases
# ---------------------------------------------------------------------------

PROFITS = [50.0, -10.0, 30.0, 20.0, -40.0, float("nan")]  # NaN: a slot never filled


def test_stobachoff_curve_of_a_hand_made_profit_list_is_exact() -> None:
    """Sorted most valuable first: 50, 30, 20, -10, -40; total 50.  Cumulative: 0, 50, 80, 100, 90, 50."""
    c = stobachoff_curve(PROFITS)
    np.testing.assert_array_equal(c.share, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_array_equal(c.cumulative, [0.0, 50.0, 80.0, 100.0, 90.0, 50.0])
    np.testing.assert_array_equal(c.curve, [0.0, 1.0, 1.6, 2.0, 1.8, 1.0])
    assert (c.total, c.value_created, c.value_destroyed) == (50.0, 100.0, 50.0)
    assert (c.peak, c.peak_position, c.index) == (2.0, 0.6, 0.5)


def test_lorenz_whale_gini_top_share_of_a_hand_made_list_are_exact() -> None:
    x, y = lorenz_curve(PROFITS)  # ascending: -40, -10, 20, 30, 50 -> cumulative 0, -40, -50, -30, 0, 50
    np.testing.assert_array_equal(x, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_array_equal(y, [0.0, -0.8, -1.0, -0.6, 0.0, 1.0])
    # sum_ij |x_i - x_j| / (2 n sum |x|) = 2 * 440 / (2 * 5 * 150)
    assert gini(PROFITS) == 440 / 750
    assert gini([3.0, 3.0, 3.0]) == 0.0 and gini([0.0, 0.0, 0.0, 4.0]) == 0.75
    assert top_share(PROFITS) == 1.0  # the top 20% (1 of 5) holds 50 of a total of 50
    sizes = [10.0, 40.0, 20.0, 20.0, 10.0, 99.0]  # most valuable first: sizes 10, 20, 20, 40, 10 (of 100)
    xw, yw = whale_curve(PROFITS, sizes)
    np.testing.assert_array_equal(xw, [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
    np.testing.assert_array_equal(yw, [0.0, 1.0, 1.6, 2.0, 1.8, 1.0])


def test_per_replication_statistics_agree_with_the_runner_and_brute_force() -> None:
    rng = np.random.Generator(np.random.SFC64(11))
    v = rng.normal(1.0, 3.0, size=(6, 40))
    v[:, 31:] = np.nan
    v[2, 5:] = np.nan
    st = relationship_stats(v)
    brute = [
        np.abs(r[:, None] - r[None, :]).sum() / (2 * r.size * np.abs(r).sum())
        for r in (row[np.isfinite(row)] for row in v)
    ]
    np.testing.assert_allclose(st["relationship_value_gini"], brute, rtol=1e-12)
    np.testing.assert_allclose(st["relationship_value_sd"], np.nanstd(v, axis=1, ddof=1), rtol=1e-12)
    summ = heterogeneity_summary(np.nan_to_num(v), np.isfinite(v))
    np.testing.assert_allclose(st["relationship_value_top20"], summ["top20_share"], rtol=1e-12)
    for r in range(v.shape[0]):
        c = stobachoff_curve(v[r])
        assert c.peak == pytest.approx(summ["stobachoff_peak"][r], rel=1e-12)
        assert c.index == pytest.approx(summ["stobachoff_index"][r], rel=1e-12)


# ---------------------------------------------------------------------------
# Statistics of a sample
# ---------------------------------------------------------------------------


def test_value_at_risk_and_expected_shortfall_exact() -> None:
    x = np.arange(1.0, 101.0)
    assert expected_shortfall(x, 0.05) == 3.0  # mean of the 5 worst
    assert expected_shortfall(x, 0.033) == pytest.approx(
        (1 + 2 + 3 + 0.3 * 4) / 3.3, rel=1e-12
    )  # fractional weight on the 4th
    d = describe(x, seed=1)
    assert d.var.value == pytest.approx(np.quantile(x, 0.05)) and d.es.value == 3.0
    assert d.p_negative.value == 0.0 and d.p_negative.low == 0.0 and 0 < d.p_negative.high < 0.05
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)


def test_bootstrap_interval_of_the_mean_agrees_with_the_t_interval() -> None:
    """For a large sample the BCa bootstrap interval of the mean and the t interval estimate the same thing.

    Their endpoints differ by bootstrap error of order sd/sqrt(n) * (a few % ); we allow 0.25 MC standard
    errors (s.e. = sd/sqrt(n)), far above that and far below the interval half-width (1.96 s.e.).
    The exactly known mean must lie in both (it does for this fixed seed).
    """
    rng = np.random.Generator(np.random.SFC64(5))
    x = rng.lognormal(0.0, 0.5, size=2000)
    d = describe(x, seed=3)
    assert abs(d.mean_bootstrap.low - d.mean.low) < 0.25 * d.mean.se
    assert abs(d.mean_bootstrap.high - d.mean.high) < 0.25 * d.mean.se
    true_mean = math.exp(0.5**2 / 2)
    assert d.mean.contains(true_mean) and d.mean_bootstrap.contains(true_mean)
    # the same seed gives the same intervals (reports are reproducible)
    assert describe(x, seed=3) == d


def test_running_mean_equals_direct_statistics() -> None:
    rng = np.random.Generator(np.random.SFC64(2))
    x = rng.normal(1e6, 2e5, size=300)
    conv = running_mean(x)
    for n in (2, 17, 300):
        assert conv.mean[n - 1] == pytest.approx(x[:n].mean(), rel=1e-12)
        ok, rel = precision_met(x[:n], 1.0)
        assert conv.relative_half_width[n - 1] == pytest.approx(rel, rel=1e-9)


# ---------------------------------------------------------------------------
# Sequential stopping (--precision)
# ---------------------------------------------------------------------------


def test_precision_stops_reproducibly_and_equals_a_fixed_run() -> None:
    sc = tiny()
    rule = StoppingRule(0.12, chunk=20, max_replications=2000)
    ds = simulate_to_precision(sc, rule, seed=3)
    n = ds.sizes["replication"]
    assert n % 20 == 0 and 20 <= n < 2000 and ds.attrs["precision_reached"] == 1
    fv = ds["firm_value"].values
    assert (
        precision_met(fv, 0.12)[0] and not precision_met(fv[: n - 20], 0.12)[0]
    )  # stopped at the first boundary that meets it
    fixed = vc.simulate(sc, n, 3)
    same = ds.copy()
    same.attrs = fixed.attrs
    assert same.identical(fixed)  # chunks concatenate to the same run, bit for bit
    again = simulate_to_precision(sc, rule, seed=3, batch_size=7)
    assert again.identical(ds)  # batching never changes anything


def test_tighter_precision_never_yields_fewer_replications() -> None:
    sc = tiny()
    ns = [
        simulate_to_precision(sc, StoppingRule(p, chunk=25, max_replications=1000), seed=8).sizes["replication"]
        for p in (0.4, 0.25, 0.15, 0.1)
    ]
    assert ns == sorted(ns) and ns[0] < ns[-1], ns
    capped = simulate_to_precision(sc, StoppingRule(1e-4, chunk=25, max_replications=60), seed=8)
    assert capped.sizes["replication"] == 60 and capped.attrs["precision_reached"] == 0


def test_cli_precision_run_and_its_bad_options(tmp_path: Path) -> None:
    small = ["--set", "customers.count=60", "--set", "horizon.periods=8"]
    r = vc_cli(
        "run",
        str(SCENARIOS / "classroom.toml"),
        *small,
        "--precision",
        "0.1",
        "--chunk",
        "20",
        "--seed",
        "2",
        "--no-figures",
        "--out",
        "out",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "stopped after" in r.stdout and "of |mean| (target 10.000%" in r.stdout
    ds = vc.open_run(tmp_path / "out" / "classroom")
    assert ds.sizes["replication"] % 20 == 0 and ds.attrs["precision"] == 0.1


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (["--precision", "0.1", "--replications", "50"], "exclude each other"),
        (["--chunk", "20"], "only with --precision"),
        (["--precision", "-1"], "must be a positive number"),
        (["--precision", "0.1", "--chunk", "1"], "at least 2"),
    ],
)
def test_cli_bad_precision_options_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str], fragment: str
) -> None:
    code = run_main(["run", str(SCENARIOS / "classroom.toml"), *bad, "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def run_main(argv: list[str]) -> int:
    """The CLI in this process (argparse errors raise SystemExit with the exit code)."""
    from valuecapture.cli.main import main

    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
