"""Comparing business-model policies under common random numbers.

:func:`compare` runs one scenario under several policies with the same seed.
Every random number a replication draws depends only on the seed, the
replication, the mechanism, the period and the customer slot (see
:mod:`valuecapture.run.seeds`), never on what a policy decided, so replication
``r`` of every policy sees the same customers, shocks, churn draws and
acquisitions draws (common random numbers, CRN).  Differences between
policies are therefore paired replication by replication, and their Monte
Carlo error is that of the paired difference, usually far smaller than that
of two independent runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import stats as sps

from valuecapture.analysis.summary import Stats, _fmt, header_lines
from valuecapture.model.policies import PolicySpec, check_parameters, parse_policy_specs, registered_policies
from valuecapture.run.simulate import simulate_variants
from valuecapture.scenario.load import Scenario


@dataclass(frozen=True)
class PairedDifference:
    """Firm value of policy ``a`` minus that of ``b``, replication by replication."""

    a: str
    b: str
    n: int
    mean: float
    mcse: float
    ci_low: float
    ci_high: float
    p_a_beats_b: float  # share of replications where a's firm value exceeds b's
    p_ties: float  # share of replications with exactly equal firm value

    @classmethod
    def of(cls, a: str, b: str, xa: np.ndarray, xb: np.ndarray, level: float = 0.95) -> PairedDifference:
        d = np.asarray(xa, dtype=float) - np.asarray(xb, dtype=float)
        n = d.size
        mean = float(d.mean())
        sd = float(d.std(ddof=1)) if n > 1 else float("nan")
        se = sd / math.sqrt(n) if n > 1 else float("nan")
        half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * se if n > 1 else float("nan")
        return cls(a, b, n, mean, se, mean - half, mean + half, float((d > 0).mean()), float((d == 0).mean()))

    @property
    def significant(self) -> bool:
        """The confidence interval excludes zero."""
        return self.ci_low > 0 or self.ci_high < 0


def policy_labels(names: Sequence[str]) -> list[str]:
    """Labels for the ``policy`` dimension: the names, with ``#2``, ``#3``... on repeats."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}#{seen[n]}")
    return out


def check_policy_names(names: Sequence[str]) -> list[PolicySpec]:
    """The policy specs of ``names`` (``"tiered(top_share=0.2)"`` or a bare name), checked:
    known names, parameters that fit each policy's signature.  Raises ValueError naming the
    problem and listing the known policies or the parameters."""
    known = registered_policies()
    if not names:
        raise ValueError(f"no policies to compare; known: {', '.join(known)}")
    specs = [s for n in names for s in parse_policy_specs(n)]
    unknown = [s.name for s in specs if s.name not in known]
    if unknown:
        raise ValueError(
            f"unknown polic{'y' if len(unknown) == 1 else 'ies'} {', '.join(map(repr, unknown))}; known: "
            f"{', '.join(known)}"
        )
    for spec in specs:
        problem = check_parameters(spec.name, spec.params)
        if problem is not None:
            raise ValueError(f"{spec.label}: {problem[1]}")
    return specs


def compare(
    scenario: Scenario,
    policies: Sequence[str],
    replications: int | None = None,
    seed: int | None = None,
    *,
    workers: int | None = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    store: str | Path | None = None,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
) -> xr.Dataset:
    """Run ``scenario`` under each named policy with the same seed (CRN).

    Returns one Dataset: every output of :func:`~valuecapture.simulate` with a
    leading ``policy`` dimension (labelled by policy name), the scenario (with
    ``choices.policy`` as the scenario file has it), seed and version in attrs,
    and ``attrs['policies']`` listing the policies compared.  The run goes through
    :func:`~valuecapture.run.simulate.simulate_variants` (executors, ``store``/``resume``).
    """
    specs = check_policy_names([str(n) for n in policies])
    names = [spec.label for spec in specs]
    labels = policy_labels(names)
    variants = {
        lab: scenario.with_values({"choices.policy": spec.name, "choices.policy_parameters": dict(spec.params)})
        for lab, spec in zip(labels, specs, strict=True)
    }
    ds = simulate_variants(
        variants,
        "policy",
        replications,
        seed,
        workers=workers,
        batch_size=batch_size,
        executor=executor,
        scheduler=scheduler,
        progress=progress,
        store=store,
        resume=resume,
        stop=stop,
    )
    ds = ds.assign_coords(
        policy=(
            "policy",
            np.array(labels, dtype=object),
            {"description": "Business-model policy, by registered name (repeats get #2, #3...)."},
        )
    )
    base = dict(ds.attrs)
    ds.attrs.update(
        {
            "title": f"valuecapture comparison of policies {', '.join(labels)} on scenario {scenario.name!r}",
            "scenario_toml": scenario.to_toml(),
            "scenario_overrides": json.dumps(list(scenario.overrides)),
            "policies": json.dumps(names),
            "comparison": "common random numbers: every policy ran the same replications with the same seed",
            "reproduce": (
                f"valuecapture compare <scenario> --policies {','.join(names)} --seed {base['seed']} --replications "
                f"{base['replications']}"
            ),
        }
    )
    return ds


def paired_differences(ds: xr.Dataset, var: str = "firm_value") -> list[PairedDifference]:
    """All ordered pairs (a before b in the policy list) of a comparison Dataset."""
    labels = [str(p) for p in ds["policy"].values]
    out = []
    for i, a in enumerate(labels):
        for b in labels[i + 1 :]:
            out.append(PairedDifference.of(a, b, ds[var].sel(policy=a).values, ds[var].sel(policy=b).values))
    return out


def ranking(ds: xr.Dataset, var: str = "firm_value") -> list[tuple[str, float]]:
    """Policies by mean ``var``, best first."""
    means = ds[var].mean("replication")
    return sorted(((str(p), float(means.sel(policy=p))) for p in ds["policy"].values), key=lambda t: -t[1])


def comparison_text(ds: xr.Dataset) -> str:
    """The table `valuecapture compare` prints."""
    a = ds.attrs
    labels = [str(p) for p in ds["policy"].values]
    lines = [
        *header_lines(a),
        "common random numbers: every policy sees the same customers, shocks and random draws",
        "",
        "Firm value by policy",
    ]
    w = max([16, *(len(p) + 2 for p in labels)])
    head = f"{'policy':{w}s}{'mean':>12s}{'± MC s.e.':>12s}{'p5':>12s}{'p50':>12s}{'p95':>12s}{'P(<0)':>8s}"
    lines += [head, "-" * len(head)]
    for p in labels:
        s = Stats.of(ds["firm_value"].sel(policy=p).values)
        lines.append(
            f"{p:{w}s}"
            + "".join(f"{_fmt(v, True):>12s}" for v in (s.mean, s.mcse, s.p5, s.p50, s.p95))
            + f"{s.p_negative:>8.3f}"
        )
    pairs = paired_differences(ds)
    if pairs:
        lines += ["", "Paired differences of firm value (A - B), 95% confidence interval, P(A beats B)"]
        wd = max([30, *(len(d.a) + len(d.b) + 5 for d in pairs)])
        head = f"{'A - B':{wd}s}{'mean':>12s}{'± MC s.e.':>12s}{'95% CI':>26s}{'P(A>B)':>9s}"
        lines += [head, "-" * len(head)]
        for d in pairs:
            ci = f"[{_fmt(d.ci_low, True)}, {_fmt(d.ci_high, True)}]"
            mark = "" if d.significant else "  (CI contains 0)"
            lines.append(
                f"{d.a + ' - ' + d.b:{wd}s}{_fmt(d.mean, True):>12s}{_fmt(d.mcse, True):>12s}{ci:>26s}"
                f"{d.p_a_beats_b:>9.3f}{mark}"
            )
    rank = ranking(ds)
    lines += ["", "Ranking by mean firm value"]
    by_pair = {(d.a, d.b): d for d in pairs}
    for i, (p, m) in enumerate(rank, 1):
        note = ""
        if i < len(rank):
            nxt = rank[i][0]
            near = by_pair.get((p, nxt)) or by_pair.get((nxt, p))
            if near is not None and not near.significant:
                note = f"   (not distinguishable from {nxt} at 95%)"
        lines.append(f"{i:2d}. {p:16s}{_fmt(m, True):>12s}{note}")
    if "customers_by_model" in ds and ds.sizes.get("business_model", 1) > 1:
        lines += ["", "Share of active relationships by business model in the last period (mean over replications)"]
        models = [str(m) for m in ds["business_model"].values]
        lines.append(f"{'policy':16s}" + "".join(f"{m[:14]:>15s}" for m in models))
        last = ds["customers_by_model"].isel(period=-1)
        share = (last / last.sum("business_model").where(last.sum("business_model") > 0)).mean("replication")
        for p in labels:
            lines.append(
                f"{p:16s}"
                + "".join(f"{float(share.sel(policy=p, business_model=m)):>15.3f}" for m in ds["business_model"].values)
            )
    return "\n".join(lines)
