"""Robustness of policies across a sweep's design: regret, minimax regret and the satisficing share.

The policies are the levels of the sweep's lever factor (a factor on ``choices.policy`` by default,
or any factors named as levers), or the sweeps themselves when several sweeps of one policy each ran
over the same design.  A **scenario** is a combination of the other factors' values; every policy
must have run in every scenario.  In scenario ``s``, with ``m[s, p]`` policy ``p``'s mean firm value:

* the best policy is ``argmax_p m[s, p]`` and its mean ``max_p m[s, p]``;
* policy ``p``'s **regret** is ``max_q m[s, q] - m[s, p]`` (0 for the best).  Its Monte Carlo standard
  error is that of the paired difference with the best policy, ``sd_r(x_best,r - x_p,r) / sqrt(R)``,
  when the replications are common random numbers (one seed: replication r faces the same draws under
  every policy); otherwise that of two independent means;
* the **maximum regret** of ``p`` is its largest regret over scenarios; the **minimax-regret** policy has
  the smallest (Savage 1951; as in robust decision making, Lempert et al. 2003);
* with a threshold ``T``, the **satisficing share** of ``p`` is the share of scenarios where
  ``m[s, p] >= T`` (a domain criterion, Starr 1963).

The best policy of a scenario is chosen on the same noisy means, so regrets near 0 are biased upwards
for the other policies by less than their standard errors; read the s.e. beside each regret.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from valuecapture.analysis.discovery import (
    ConditionError,
    factor_table,
    groups,
    policy_factors,
    sweep_factors,
)


class RobustnessError(ConditionError):
    """Results that cannot be compared for robustness (one line)."""


@dataclass(frozen=True)
class PolicyTable:
    """Firm value of every policy in every scenario: ``values[s, p, r]`` (scenario, policy, replication).

    ``factors``/``x``/``levels``: the scenarios' values of the other factors (as :func:`factor_table`);
    ``crn``: the replications are common random numbers across policies (paired differences)."""

    policies: tuple[str, ...]
    factors: tuple[str, ...]
    x: np.ndarray
    levels: tuple[tuple[str, ...] | None, ...]
    values: np.ndarray
    crn: bool
    source: str


def policy_table(ds: xr.Dataset, levers: Sequence[str] | None = None) -> PolicyTable:
    """The policies of one sweep: the levels of its lever factors (default: the factor on ``choices.policy``)."""
    lev = policy_factors(ds, levers)
    if not lev:
        raise RobustnessError(
            "the sweep has no policy factor (a factor on choices.policy): name the factors that are the firm's "
            "choices with --lever, or give several sweeps of one policy each over the same design"
        )
    labels, others, index = groups(ds, lev)
    if len(labels) < 2:
        raise RobustnessError(f"the lever {', '.join(lev)} has one value ({labels[0]}): there is nothing to compare")
    fv = ds["firm_value"].values.astype(float)
    x, levels = factor_table(ds.isel(design_point=index[:, 0]), others)
    return PolicyTable(tuple(labels), tuple(others), x, levels, fv[index], True, f"lever {', '.join(lev)}")


def _policy_of(ds: xr.Dataset) -> str:
    """A sweep's policy label from its base scenario: ``choices.policy`` and its parameters."""
    try:
        choices = tomllib.loads(str(ds.attrs.get("scenario_toml", ""))).get("choices", {})
    except tomllib.TOMLDecodeError:
        choices = {}
    pol = choices.get("policy", "single")
    if isinstance(pol, dict):
        params = {k: v for k, v in pol.items() if k != "name"}
        pol = pol.get("name", "single")
    else:
        params = choices.get("policy_parameters", {}) or {}
    if params:
        return f"{pol}(" + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) + ")"
    return str(pol)


def sweeps_table(results: Sequence[xr.Dataset], labels: Sequence[str] | None = None) -> PolicyTable:
    """Several sweeps over the same design, one policy each (labelled by their base scenario's policy, or
    by their experiment names where those are not distinct, or by ``labels``)."""
    if len(results) < 2:
        raise RobustnessError("give a sweep with a policy factor, or at least two sweeps over the same design")
    first = results[0]
    names = sweep_factors(first)
    x, levels = factor_table(first, names)
    for i, ds in enumerate(results[1:], start=1):
        if sweep_factors(ds) != names:
            raise RobustnessError(
                f"sweep {i + 1} has the factors {', '.join(sweep_factors(ds))}, sweep 1 {', '.join(names)}: the "
                "sweeps must share their design"
            )
        xi, li = factor_table(ds, names)
        if xi.shape != x.shape or li != levels or not np.array_equal(xi, x):
            raise RobustnessError(
                f"sweep {i + 1} ran other design points than sweep 1: the sweeps must share their design"
            )
        if ds.sizes["replication"] != first.sizes["replication"]:
            raise RobustnessError(
                f"sweep {i + 1} has {ds.sizes['replication']} replications per point, sweep 1 "
                f"{first.sizes['replication']}"
            )
    if labels is None:
        labels = [_policy_of(ds) for ds in results]
        if len(set(labels)) < len(labels):
            labels = [str(ds.attrs.get("experiment_name", f"sweep {i + 1}")) for i, ds in enumerate(results)]
    labels = list(labels)
    if len(set(labels)) < len(labels):
        raise RobustnessError(f"the sweeps' policies are not distinct ({', '.join(labels)}): label them")
    crn = len({int(ds.attrs["seed"]) for ds in results}) == 1
    values = np.stack([ds["firm_value"].values.astype(float) for ds in results], axis=1)
    return PolicyTable(tuple(labels), tuple(names), x, levels, values, crn, f"{len(results)} sweeps")


@dataclass(frozen=True)
class Robustness:
    """Regret of every policy in every scenario and the robustness criteria (see the module docstring)."""

    table: PolicyTable
    mean: np.ndarray  # (S, P) mean firm value
    se: np.ndarray  # (S, P) its MC standard error
    best: np.ndarray  # (S,) index of the best policy
    regret: np.ndarray  # (S, P)
    regret_se: np.ndarray  # (S, P)
    threshold: float | None
    satisficing: np.ndarray | None  # (P,) share of scenarios with mean >= threshold

    @property
    def max_regret(self) -> np.ndarray:
        return np.asarray(self.regret.max(axis=0))

    @property
    def minimax(self) -> str:
        """The minimax-regret policy (ties: the first listed)."""
        return self.table.policies[int(np.argmin(self.max_regret))]

    @property
    def best_share(self) -> np.ndarray:
        """Share of scenarios where each policy is the best."""
        return np.bincount(self.best, minlength=len(self.table.policies)) / len(self.best)


def robustness(table: PolicyTable, threshold: float | None = None) -> Robustness:
    """Regret, minimax regret and (with ``threshold``) the satisficing share of ``table``'s policies."""
    v = table.values
    s_n, p_n, r_n = v.shape
    if r_n < 2:
        raise RobustnessError(f"robustness needs at least 2 replications per design point, got {r_n}")
    if threshold is not None and not math.isfinite(threshold):
        raise RobustnessError(f"--threshold must be a finite number, got {threshold}")
    mean = v.mean(axis=2)
    sd = v.std(axis=2, ddof=1)
    se = sd / math.sqrt(r_n)
    best = np.argmax(mean, axis=1)
    top = mean[np.arange(s_n), best]
    regret = top[:, None] - mean
    if table.crn:
        diff = v[np.arange(s_n), best][:, None, :] - v
        regret_se = diff.std(axis=2, ddof=1) / math.sqrt(r_n)
    else:
        regret_se = np.sqrt(se[np.arange(s_n), best][:, None] ** 2 + se**2)
        regret_se[np.arange(s_n), best] = 0.0
    sat = None if threshold is None else np.mean(mean >= threshold, axis=0)
    return Robustness(table, mean, se, best, regret, regret_se, threshold, sat)


def robustness_dataset(r: Robustness) -> xr.Dataset:
    """The per-scenario table as a Dataset (``scenario`` x ``policy``), with the factors as coordinates."""
    t = r.table
    coords: dict[str, tuple[str, np.ndarray]] = {"policy": ("policy", np.array(t.policies, dtype=object))}
    for j, n in enumerate(t.factors):
        lv = t.levels[j]
        col = t.x[:, j]
        coords[n] = ("scenario", col if lv is None else np.array([lv[int(k)] for k in col], dtype=object))
    return xr.Dataset(
        {
            "mean_firm_value": (("scenario", "policy"), r.mean, {"description": "Mean firm value"}),
            "mean_firm_value_se": (("scenario", "policy"), r.se, {"description": "Its Monte Carlo standard error"}),
            "regret": (("scenario", "policy"), r.regret, {"description": "Best policy's mean minus this policy's"}),
            "regret_se": (
                ("scenario", "policy"),
                r.regret_se,
                {"description": "MC s.e. of the regret (paired difference under common random numbers)"},
            ),
            "best_policy": (("scenario",), np.array([t.policies[i] for i in r.best], dtype=object)),
            "best_mean_firm_value": (("scenario",), r.mean[np.arange(len(r.best)), r.best]),
        },
        coords=coords,
        attrs={"threshold": "" if r.threshold is None else r.threshold, "crn": int(t.crn)},
    )


def _money(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    a = abs(v)
    for div, suf in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if a >= div:
            return f"{v / div:,.2f}{suf}"
    return f"{v:,.0f}"


def robustness_text(r: Robustness, rows: int = 12) -> str:
    """The printed tables: per policy the robustness criteria, then the scenarios with the largest regret."""
    t = r.table
    s_n = len(r.best)
    worst = np.argmax(r.regret, axis=0)
    lines = [
        f"Robustness of {len(t.policies)} policies over {s_n} scenarios (combinations of "
        f"{', '.join(t.factors) or 'no other factor'}; policies from {t.source}); firm value, "
        f"{t.values.shape[2]} replications each, "
        + ("common random numbers (paired s.e.)" if t.crn else "independent seeds (unpaired s.e.)"),
        "",
        f"{'policy':24s} {'mean regret':>12s} {'max regret':>12s} {'(s.e.)':>10s} {'best in':>8s}"
        + (f" {'meets ' + _money(r.threshold):>14s}" if r.threshold is not None else ""),
        "-" * (72 + (15 if r.threshold is not None else 0)),
    ]
    for p, name in enumerate(t.policies):
        line = (
            f"{name:24s} {_money(float(r.regret[:, p].mean())):>12s} {_money(float(r.max_regret[p])):>12s} "
            f"{'(' + _money(float(r.regret_se[worst[p], p])) + ')':>10s} {r.best_share[p]:8.1%}"
        )
        if r.satisficing is not None:
            line += f" {r.satisficing[p]:14.1%}"
        lines.append(line + ("   <- minimax regret" if name == r.minimax else ""))
    if r.threshold is not None:
        lines.append(f"meets: share of scenarios where the policy's mean firm value is at least {_money(r.threshold)}")
    lines += ["", f"Scenarios by the minimax policy's regret (largest first; {min(rows, s_n)} of {s_n}):"]
    widths = [max(8, len(n)) for n in t.factors]
    head = " ".join(f"{n:>{w}s}" for n, w in zip(t.factors, widths, strict=True))
    lines.append(f"{head} {'best':>14s} {'best mean':>11s} " + " ".join(f"{p[:18]:>18s}" for p in t.policies))
    mm = t.policies.index(r.minimax)
    for s in np.argsort(-r.regret[:, mm], kind="stable")[:rows]:
        vals = []
        for j, lv in enumerate(t.levels):
            v = t.x[s, j]
            vals.append(f"{(lv[int(v)] if lv is not None else f'{v:.4g}')[: widths[j]]:>{widths[j]}s}")
        regs = " ".join(
            f"{_money(float(r.regret[s, p])) + ' ± ' + _money(float(r.regret_se[s, p])):>18s}"
            for p in range(len(t.policies))
        )
        lines.append(
            f"{' '.join(vals)} {t.policies[r.best[s]][:14]:>14s} {_money(float(r.mean[s, r.best[s]])):>11s} {regs}"
        )
    lines.append("regret: the scenario's best mean firm value minus the policy's, ± its Monte Carlo s.e.")
    return "\n".join(lines)


def describe_policies(r: Robustness) -> str:
    """One JSON line of the per-policy criteria (for scripts)."""
    out = {
        name: {
            "mean_regret": float(r.regret[:, p].mean()),
            "max_regret": float(r.max_regret[p]),
            "best_share": float(r.best_share[p]),
            **({"satisficing_share": float(r.satisficing[p])} if r.satisficing is not None else {}),
        }
        for p, name in enumerate(r.table.policies)
    }
    return json.dumps({"minimax_regret": r.minimax, "threshold": r.threshold, "policies": out})
