"""Attribution of firm-value variance to the three sources of heterogeneity.

MODEL.md §2 names three sources of heterogeneity: the **customer**, the
**relationship** and the **interdependence** between customers; each has a
switch in the scenario (``heterogeneity.*``, see docs/model.md §2).
:func:`decompose` runs the scenario in all ``2^3 = 8`` combinations of the
switches with the same seed.  Switching a source off changes no random number
(common random numbers), so replication ``r`` of every configuration faces the
same draws.

For a statistic ``v(S)`` of the configuration in which the sources in ``S`` are
on (for example the variance of firm value across replications), the **Shapley
value** of source ``k`` is

    phi_k = sum over S not containing k of |S|! (3 - |S| - 1)! / 3! * (v(S + k) - v(S))

the average, over the orders in which the sources could be switched on, of what
switching on ``k`` adds.  The three values add up exactly to the *explained*
part ``v(all) - v(none)``; ``v(none)`` is what remains with every source off
(churn and acquisition draws, idiosyncratic demand shocks).  A source that is
already off in the scenario, or that has no effect, gets exactly 0.  Shapley
values can be negative when a source reduces the statistic.

Confidence intervals come from a paired bootstrap over replications: each
resample draws replication indices once and uses them in all eight
configurations, which keeps the pairing that common random numbers create.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.heterogeneity import RELATIONSHIP_REDUCER
from valuecapture.analysis.stats import bootstrap_ci
from valuecapture.analysis.summary import _fmt, header_lines
from valuecapture.run.simulate import simulate_variants
from valuecapture.scenario.load import Scenario

SOURCES: tuple[str, ...] = ("customer", "relationship", "interdependence")


def configurations() -> list[tuple[bool, ...]]:
    """The eight on/off combinations of :data:`SOURCES`, all on first, none last."""
    combos = list(itertools.product((True, False), repeat=len(SOURCES)))
    return sorted(combos, key=lambda c: (-sum(c), [not x for x in c]))


def label(on: Sequence[bool]) -> str:
    names = [s for s, o in zip(SOURCES, on, strict=True) if o]
    return "+".join(names) if names else "none"


def shapley(values: Mapping[frozenset[str], Any], players: Sequence[str] = SOURCES) -> dict[str, Any]:
    """Shapley values of ``players`` for the game ``values[frozenset(on)]`` (scalars or arrays).

    >>> v = {frozenset(): 0, frozenset("a"): 1, frozenset("b"): 2, frozenset("ab"): 6}
    >>> shapley(v, players=("a", "b"))
    {'a': 2.5, 'b': 3.5}
    """
    n = len(players)
    out: dict[str, Any] = {}
    for k in players:
        others = [p for p in players if p != k]
        total: Any = 0.0
        for size in range(n):
            w = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for subset in itertools.combinations(others, size):
                s = frozenset(subset)
                total = total + w * (values[s | {k}] - values[s])
        out[k] = total
    return out


def decompose(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    store: str | Path | None = None,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
) -> xr.Dataset:
    """Run the eight switch configurations of ``scenario`` with the same seed.

    Returns one Dataset with a ``configuration`` dimension (labelled by the
    sources switched on; boolean coordinates ``customer``, ``relationship``,
    ``interdependence``) and a ``replication`` dimension, holding every
    per-replication output of :func:`~valuecapture.simulate` plus per-replication
    statistics of relationship value computed from all relationships of every
    replication (:data:`~valuecapture.analysis.heterogeneity.RELATIONSHIP_STATS`).  Per-period
    series and per-relationship detail are not kept.  The run goes through
    :func:`~valuecapture.run.simulate.simulate_variants` (executors, ``store``/``resume``).
    """
    replications = int(scenario.get("run.replications") if replications is None else replications)
    seed = int(scenario.get("run.seed") if seed is None else seed)
    if replications < 2:
        raise ValueError(f"a decomposition needs at least 2 replications, got {replications}")
    base_on = {s: bool(scenario.get(f"heterogeneity.{s}")) for s in SOURCES}
    combos = configurations()
    labels = [label(on) for on in combos]
    variants = {
        lab: scenario.with_values(
            {f"heterogeneity.{s}": bool(o and base_on[s]) for s, o in zip(SOURCES, on, strict=True)}
        )
        for lab, on in zip(labels, combos, strict=True)
    }
    out = simulate_variants(
        variants,
        "configuration",
        replications,
        seed,
        keep="replication",
        reduce=RELATIONSHIP_REDUCER,
        workers=workers,
        batch_size=batch_size,
        executor=executor,
        scheduler=scheduler,
        progress=progress,
        store=store,
        resume=resume,
        stop=stop,
    )
    out = out.assign_coords(
        configuration=(
            "configuration",
            np.array(labels, dtype=object),
            {"description": "Sources of heterogeneity switched on (as in the scenario); 'none': all three off."},
        )
    )
    for j, s in enumerate(SOURCES):
        out = out.assign_coords(
            {
                s: (
                    "configuration",
                    np.array([bool(on[j] and base_on[s]) for on in combos]),
                    {"description": f"heterogeneity.{s} in this configuration."},
                )
            }
        )
    out.attrs.update(
        {
            "title": f"valuecapture decomposition of scenario {scenario.name!r} into its sources of heterogeneity",
            "scenario_toml": scenario.to_toml(),
            "scenario_overrides": json.dumps(list(scenario.overrides)),
            "kind": "decomposition",
            "decomposition": (
                "the scenario in all 8 combinations of heterogeneity.customer/relationship/interdependence, same seed "
                "(common random numbers); Shapley attribution"
            ),
            "sources_on_in_scenario": json.dumps(base_on),
            "reproduce": (
                f"valuecapture reproduce <this file>  (or: valuecapture decompose <scenario> --seed {seed} "
                f"--replications {replications})"
            ),
        }
    )
    return out


# ---------------------------------------------------------------------------
# Attribution
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """A statistic of one configuration's replications, vectorized along ``axis``."""

    name: str
    title: str
    variable: str
    units: str
    reduce: Callable[..., np.ndarray]


def _var(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.nanvar(x, axis=axis, ddof=1)


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.nanmean(x, axis=axis)


#: What can be attributed: name -> metric.
METRICS: dict[str, Metric] = {
    "firm_value_variance": Metric(
        "firm_value_variance", "Variance of firm value across replications", "firm_value", "currency^2", _var
    ),
    "relationship_value_sd": Metric(
        "relationship_value_sd",
        "Spread of relationship value: mean within-replication sd",
        "relationship_value_sd",
        "currency",
        _mean,
    ),
    "relationship_value_gini": Metric(
        "relationship_value_gini",
        "Inequality of relationship value: mean within-replication Gini",
        "relationship_value_gini",
        "index 0-1",
        _mean,
    ),
}

#: Rows of an attribution, in the order of :func:`_attribution_stat`'s output.
ROWS: tuple[str, ...] = (
    *(f"shapley_{s}" for s in SOURCES),
    "total",
    "baseline",
    "explained",
    *(f"share_{s}" for s in SOURCES),
    "share_baseline",
    *(f"main_{s}" for s in SOURCES),
    "interaction",
    *(f"share_main_{s}" for s in SOURCES),
    "share_interaction",
)


def _attribution_stat(metric: Metric, combos: Sequence[tuple[bool, ...]]) -> Callable[..., np.ndarray]:
    def stat(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        v = {
            frozenset(s for s, o in zip(SOURCES, on, strict=True) if o): metric.reduce(x, axis=axis)
            for on, x in zip(combos, samples, strict=True)
        }
        phi = shapley(v)
        total = v[frozenset(SOURCES)]
        base = v[frozenset()]
        # main effect: switching the source on alone; interaction: what the sources add together beyond that
        main = [v[frozenset({s})] - base for s in SOURCES]
        interaction = total - base - sum(main)
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = [phi[s] / total for s in SOURCES]
            share_base = base / total
            share_main = [m / total for m in main]
            share_interaction = interaction / total
        return np.stack(
            [
                *(phi[s] for s in SOURCES),
                total,
                base,
                total - base,
                *shares,
                share_base,
                *main,
                interaction,
                *share_main,
                share_interaction,
            ]
        )

    return stat


@dataclass(frozen=True)
class Attribution:
    """Shapley attribution of one metric, with bootstrap confidence intervals.

    ``estimate``, ``low``, ``high`` are indexed by :data:`ROWS`; ``by_configuration``
    holds ``v(S)`` of every configuration with its interval.
    """

    metric: Metric
    estimate: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    by_configuration: dict[str, tuple[float, float, float]]
    n: int
    level: float

    def share_sum(self) -> float:
        return sum(self.estimate[f"shapley_{s}"] for s in SOURCES)


def attribution(
    ds: xr.Dataset,
    metric: str = "firm_value_variance",
    *,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int | None = None,
) -> Attribution:
    """Shapley attribution of ``metric`` (see :data:`METRICS`) from a :func:`decompose` Dataset.

    Intervals: paired bootstrap over replications (the same replication indices
    in all eight configurations), BCa (percentile above 5,000 replications).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
    m = METRICS[metric]
    combos = [tuple(bool(ds[s].values[i]) for s in SOURCES) for i in range(ds.sizes["configuration"])]
    labels = [str(c) for c in ds["configuration"].values]
    # a source that is off in the scenario is off in every configuration: keep the label's combo for the game
    game = configurations()
    samples = [ds[m.variable].sel(configuration=lab).values.astype(float) for lab in labels]
    stat = _attribution_stat(m, game)
    point = stat(*[s[None, :] for s in samples], axis=-1)[:, 0]
    seed = int(ds.attrs.get("seed", 0)) if seed is None else int(seed)
    low, high = bootstrap_ci(samples, stat, seed=seed, level=level, n_resamples=n_resamples, paired=True)
    by_conf: dict[str, tuple[float, float, float]] = {}
    for lab, s in zip(labels, samples, strict=True):
        lo, hi = bootstrap_ci((s,), m.reduce, seed=seed, level=level, n_resamples=n_resamples)
        by_conf[lab] = (float(m.reduce(s[None, :], axis=-1)[0]), float(lo), float(hi))
    del combos
    return Attribution(
        metric=m,
        estimate={r: float(point[i]) for i, r in enumerate(ROWS)},
        low={r: float(low[i]) for i, r in enumerate(ROWS)},
        high={r: float(high[i]) for i, r in enumerate(ROWS)},
        by_configuration=by_conf,
        n=int(ds.sizes["replication"]),
        level=level,
    )


def _num(v: float, units: str, code: str = "") -> str:
    if not math.isfinite(v):
        return "nan"
    if units == "currency^2":
        return f"{v:.3g}"
    text = _fmt(v, units == "currency")
    return f"{text} {code}" if code and units == "currency" else text


def currency_code(attrs: Mapping[str, Any]) -> str:
    """The ISO 4217 code in a result's ``currency`` attribute (``EUR``, ``USD``...), or "" when it holds
    none (results written before ``economics.currency`` existed say ``scenario currency units``)."""
    c = attrs.get("currency")
    return c if isinstance(c, str) and re.fullmatch(r"[A-Z]{3}", c) else ""


def _pct(v: float) -> str:
    return f"{100 * v:.1f}%" if math.isfinite(v) else "nan"


def _pct_ci(att: Attribution, row: str) -> str:
    lo, hi = att.low[row], att.high[row]
    return f"[{100 * lo:.1f}, {100 * hi:.1f}]" if math.isfinite(lo) and math.isfinite(hi) else ""


def _sd(variance: float, code: str) -> str:
    return _num(math.sqrt(variance), "currency", code) if math.isfinite(variance) and variance >= 0 else "nan"


def _without(source: str) -> str:
    """The label of the configuration with every source on except ``source``."""
    return label([s != source for s in SOURCES])


def _variance_lines(att: Attribution, code: str) -> list[str]:
    """The variance of firm value as shares (Shapley) and standard deviations in money."""
    e, conf = att.estimate, att.by_configuration
    lines = [
        f"{att.metric.title}: sd {_sd(e['total'], code)} with every source on, {_sd(e['baseline'], code)} with all "
        "three off",
        f"Shares of the variance (Shapley values), {att.level:.0%} paired-bootstrap CI over {att.n} replications;",
        "sd alone: sd of firm value with only this source on; sd without: with every source on but this one",
    ]
    head = f"{'source':28s}{'share':>9s}{'CI':>18s}{'sd alone':>14s}{'sd without':>14s}"
    lines += [head, "-" * len(head)]
    for s in SOURCES:
        lines.append(
            f"{s:28s}{_pct(e['share_' + s]):>9s}{_pct_ci(att, 'share_' + s):>18s}"
            f"{_sd(conf[label([x == s for x in SOURCES])][0], code):>14s}{_sd(conf[_without(s)][0], code):>14s}"
        )
    lines.append(
        f"{'none (all sources off)':28s}{_pct(e['share_baseline']):>9s}{_pct_ci(att, 'share_baseline'):>18s}"
        f"{_sd(e['baseline'], code):>14s}"
    )
    lines.append(f"{'total (all sources on)':28s}{_pct(1.0):>9s}{'':18s}{_sd(e['total'], code):>14s}")
    return lines


def _value_lines(att: Attribution, code: str) -> list[str]:
    """A metric in its own units (money or an index): Shapley values and their shares."""
    e, u = att.estimate, att.metric.units
    lines = [
        f"{att.metric.title} [{u}{' ' + code if code and u == 'currency' else ''}]: Shapley attribution, "
        f"{att.level:.0%} paired-bootstrap CI over {att.n} replications"
    ]
    head = f"{'source':28s}{'Shapley value':>18s}{'CI low':>12s}{'CI high':>12s}{'share':>9s}{'CI':>18s}"
    lines += [head, "-" * len(head)]
    rows = [(s, "shapley_" + s, "share_" + s) for s in SOURCES] + [
        ("none (all sources off)", "baseline", "share_baseline")
    ]
    for name, value, share in rows:
        lines.append(
            f"{name:28s}{_num(e[value], u, code):>18s}{_num(att.low[value], u, code):>12s}"
            f"{_num(att.high[value], u, code):>12s}{_pct(e[share]):>9s}{_pct_ci(att, share):>18s}"
        )
    lines.append(
        f"{'total (all sources on)':28s}{_num(e['total'], u, code):>18s}{_num(att.low['total'], u, code):>12s}"
        f"{_num(att.high['total'], u, code):>12s}{_pct(1.0):>9s}"
    )
    return lines


def _interaction_lines(att: Attribution) -> list[str]:
    """The explained part split into each source's main effect and the sources' interaction."""
    e = att.estimate
    lines = [
        f"explained = total - none = {_pct(e['explained'] / e['total'] if e['total'] else math.nan)} of the total "
        "(the sum of the Shapley shares), made of each source's main effect (switched on alone) and the "
        "interaction of the sources (what they add together beyond their main effects; the Shapley values split it "
        "among them):"
    ]
    lines = _wrap(lines[0], "")
    for s in SOURCES:
        lines.append(
            f"  {'main effect of ' + s:36s}{_pct(e['share_main_' + s]):>9s}{_pct_ci(att, 'share_main_' + s):>18s}"
        )
    lines.append(f"  {'interaction':36s}{_pct(e['share_interaction']):>9s}{_pct_ci(att, 'share_interaction'):>18s}")
    return lines


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width=110, subsequent_indent=indent, break_on_hyphens=False)


def _negative_notes(att: Attribution) -> list[str]:
    """What a negative share means, for each source (and the interaction) whose share is below 0."""
    e, notes = att.estimate, []
    what = att.metric.title.split(":")[0]
    what = what[0].lower() + what[1:]
    for s in SOURCES:
        if e["share_" + s] < 0:
            noise = att.high["share_" + s] >= 0
            notes += _wrap(
                f"note: the {s} share is negative ({_pct(e['share_' + s])}): switching {s} heterogeneity on lowers "
                f"the {what} on average over the orders of switching, because its effect moves against the other "
                "sources' (a negative covariance or interaction) and they partly offset; it is not "
                "an error, and the shares still add up to 100%"
                + ("; its CI includes 0, so it may also be Monte Carlo noise" if noise else "")
            )
    if e["share_interaction"] < 0:
        notes += _wrap(
            f"note: the interaction is negative ({_pct(e['share_interaction'])}): switched on together, the sources "
            "add less than the sum of their main effects (their effects partly offset or overlap)"
            + ("; its CI includes 0" if att.high["share_interaction"] >= 0 else "")
        )
    return notes


def attribution_text(ds: xr.Dataset, metrics: Sequence[str] = tuple(METRICS), *, n_resamples: int = 2000) -> str:
    """The tables ``valuecapture decompose`` prints: one Shapley attribution per metric.

    The variance of firm value is shown as shares with standard deviations in money (the
    result's ``currency`` code, when it has one), each metric's explained part as main
    effects plus the interaction of the sources, and a note for every negative share."""
    a = ds.attrs
    code = currency_code(a)
    lines = [
        *header_lines(a),
        "8 configurations of heterogeneity.customer / relationship / interdependence, common random numbers",
    ]
    base_on = json.loads(a.get("sources_on_in_scenario", "{}"))
    off = [s for s, on in base_on.items() if not on]
    if off:
        lines.append(
            f"note: {', '.join(off)} heterogeneity is off in the scenario itself, so its share is 0 by construction"
        )
    for name in metrics:
        att = attribution(ds, name, n_resamples=n_resamples)
        lines.append("")
        lines += _variance_lines(att, code) if att.metric.units == "currency^2" else _value_lines(att, code)
        lines += _interaction_lines(att)
        lines += _negative_notes(att)
    fv = ds["firm_value"]
    money = f" [{code}]" if code else ""
    lines += [
        "",
        f"Firm value by configuration{money}",
        f"{'configuration':40s}{'mean':>12s}{'± MC s.e.':>12s}{'sd':>12s}",
    ]

    for lab in ds["configuration"].values:
        x = fv.sel(configuration=lab).values
        lines.append(
            f"{str(lab):40s}{_fmt(float(x.mean()), True):>12s}"
            f"{_fmt(float(x.std(ddof=1) / math.sqrt(x.size)), True):>12s}{_fmt(float(x.std(ddof=1)), True):>12s}"
        )
    return "\n".join(lines)
