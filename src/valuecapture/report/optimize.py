"""An optimisation's result folder: trials table, summary, figures, the chosen setting as TOML.

:func:`optimize_to_folder` is ``valuecapture optimize`` as a function: the search and the
validation stream into the store ``OUT/.<scenario>-optimize.inprogress/`` (locked,
resumable: :func:`~valuecapture.run.folder.run_in_folder`), then ``OUT/<scenario>-optimize/``
is written atomically with

* ``result.nc``: the validation run (dims ``candidate x replication``; candidate ``current``
  is the scenario's own setting) with the in-sample and out-of-sample objectives, their CIs,
  the optimism and the paired differences against the current setting;
* ``summary.txt``; ``trials.csv``: every trial's levers, objective values and state;
* ``chosen.toml``: the scenario with the chosen lever values, ready to run; ``trial-NNNN.toml``
  for every validated candidate;
* ``figures/``: the objective by trial with the running best (two objectives: the Pareto front).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import xarray as xr

from valuecapture.analysis.optimize import (
    CURRENT,
    JOURNAL_FILE,
    PLAN_FILE,
    Optimization,
    Settings,
    Trial,
    optimization_text,
    optimize,
)
from valuecapture.report.money import currency_of, scaled
from valuecapture.report.plots import _plt
from valuecapture.report.research_plots import save
from valuecapture.run.folder import run_in_folder
from valuecapture.run.results import write_result
from valuecapture.scenario.load import Scenario


def trials_csv(res: Optimization) -> str:
    """Every trial: number, state, lever values, objective values, mean and sd of firm value, running best."""
    s = res.settings
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    names = [o.name for o in s.objectives]
    w.writerow(
        ["trial", "state", *[lv.field for lv in s.levers], *names, "mean_firm_value", "sd_firm_value"]
        + (["best_so_far"] if len(names) == 1 else [])
        + ["validated", "error"]
    )
    validated = {t.number for t in res.chosen}
    best: float | None = None
    o = s.objectives[0]
    for t in res.trials:
        if t.values is not None and (best is None or o.better(t.values[0], best)):
            best = t.values[0]
        fv = t.firm_value
        w.writerow(
            [t.number, "complete" if t.values is not None else "invalid"]
            + [t.params.get(lv.field, "") for lv in s.levers]
            + (list(t.values) if t.values is not None else [""] * len(names))
            + ([float(fv.mean()), float(fv.std(ddof=1))] if fv is not None and fv.size > 1 else ["", ""])
            + (["" if best is None else best] if len(names) == 1 else [])
            + ["yes" if t.number in validated else "", t.error]
        )
    return out.getvalue()


def chosen_toml(res: Optimization, trial: Trial, chosen: bool) -> str:
    """The scenario with ``trial``'s lever values as TOML, named ``<scenario>-optimized`` (or ``-trial-NNNN``)."""
    base = res.base.name
    suffix = "-optimized" if chosen else f"-{trial.label}"
    sc = res.scenario_of(trial).with_values({"scenario.name": base[: 64 - len(suffix)] + suffix})
    ds = res.validation
    i = [str(c) for c in ds["candidate"].values].index(trial.label)
    what = "Chosen by" if chosen else "A candidate of"
    lines = [f"# {what} valuecapture optimize ({trial.label}) from {res.base.source}"]
    lines += [f"#   {lv.field} = {json.dumps(sc.get(lv.field))}" for lv in res.settings.levers]
    for o in res.settings.objectives:
        lines.append(
            f"#   {o.describe}: in-sample {float(ds[f'{o.key}_in_sample'][i]):.6g}, out of sample "
            f"{float(ds[f'{o.key}_out_of_sample'][i]):.6g} [{float(ds[f'{o.key}_out_of_sample_low'][i]):.6g}, "
            f"{float(ds[f'{o.key}_out_of_sample_high'][i]):.6g}]"
        )
    return "\n".join(lines) + "\n" + sc.to_toml()


def _scale(values: np.ndarray, money: bool, currency: str) -> tuple[float, str]:
    """Divisor and axis unit of an objective: money in k/m/bn and the currency, else none."""
    if not money or not values.size:
        return 1.0, ""
    return scaled(values, currency)


def objective_figure(res: Optimization):  # type: ignore[no-untyped-def]
    """The objective of every trial with the running best, the current setting (dashed) and the
    validated candidates' out-of-sample values with their 95% CIs."""
    plt = _plt()
    s, ds = res.settings, res.validation
    o = s.objectives[0]
    done = [t for t in res.trials if t.values is not None]
    x = np.array([t.number for t in done])
    y = np.array([t.values[0] for t in done if t.values is not None])
    div, unit = _scale(np.append(y, float(ds[f"{o.key}_out_of_sample"][0])), o.money, currency_of(ds))
    fig, ax = plt.subplots(figsize=(8, 4.8), layout="constrained")
    ax.scatter(x, y / div, s=18, color="tab:blue", alpha=0.7, label="trial (in sample: search seed)")
    best = np.minimum.accumulate(y) if o.direction == "minimize" else np.maximum.accumulate(y)
    ax.step(x, best / div, where="post", color="tab:blue", lw=1.5, label="running best")
    ax.axhline(float(ds[f"{o.key}_in_sample"][0]) / div, color="grey", ls="--", lw=1, label="current setting")
    labels = [str(c) for c in ds["candidate"].values]
    for i, c in enumerate(labels):
        if c == CURRENT:
            continue
        n = int(c.split("-")[1])
        out = float(ds[f"{o.key}_out_of_sample"][i]) / div
        lo, hi = float(ds[f"{o.key}_out_of_sample_low"][i]) / div, float(ds[f"{o.key}_out_of_sample_high"][i]) / div
        ax.errorbar(
            [n + 0.25], [out], yerr=[[out - lo], [hi - out]], fmt="D", color="tab:red", ms=5, capsize=3,
            label="validated: out of sample (fresh seed), 95% CI" if i == 1 else None,
        )  # fmt: skip
    ax.set_xlabel("trial")
    ax.set_ylabel(o.describe + (f" ({unit})" if unit else ""))
    ax.set_title(f"{ds.attrs.get('scenario_name', '')}: objective by trial ({ds.attrs.get('optimizer', '')})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return fig


def pareto_figure(res: Optimization):  # type: ignore[no-untyped-def]
    """Two objectives: every trial, the Pareto front, the current setting, and the validated
    front members' out-of-sample values (arrows from in sample to out of sample)."""
    plt = _plt()
    s, ds = res.settings, res.validation
    o1, o2 = s.objectives
    done = [t for t in res.trials if t.values is not None]
    v = np.array([t.values for t in done], dtype=float).reshape(-1, 2)
    cur = currency_of(ds)
    d1, s1 = _scale(v[:, 0], o1.money, cur)
    d2, s2 = _scale(v[:, 1], o2.money, cur)
    fig, ax = plt.subplots(figsize=(8.5, 5.5), layout="constrained")
    ax.scatter(v[:, 0] / d1, v[:, 1] / d2, s=16, color="tab:blue", alpha=0.45, label="trial (in sample)")
    sign = np.array([1.0 if o.direction == "maximize" else -1.0 for o in (o1, o2)])
    front = [
        i for i in range(len(v)) if not any(np.all(sign * v[j] >= sign * v[i]) and np.any(sign * v[j] > sign * v[i])
                                            for j in range(len(v)))
    ]  # fmt: skip
    f = v[sorted(front, key=lambda i: v[i, 0])]
    ax.plot(f[:, 0] / d1, f[:, 1] / d2, "-o", color="tab:blue", ms=5, lw=1.5, label="Pareto front (in sample)")
    labels = [str(c) for c in ds["candidate"].values]
    for i, c in enumerate(labels):
        a = (float(ds[f"{o1.key}_in_sample"][i]) / d1, float(ds[f"{o2.key}_in_sample"][i]) / d2)
        b = (float(ds[f"{o1.key}_out_of_sample"][i]) / d1, float(ds[f"{o2.key}_out_of_sample"][i]) / d2)
        colour = "black" if c == CURRENT else "tab:red"
        ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": colour, "lw": 1})
        ax.scatter(*b, marker="*" if c == CURRENT else "D", s=80 if c == CURRENT else 30, color=colour, zorder=3,
                   label=("current setting, out of sample" if c == CURRENT else
                          "validated, out of sample (fresh seed)" if i == 1 else None))  # fmt: skip
    ax.set_xlabel(o1.describe + (f" ({s1})" if s1 else ""))
    ax.set_ylabel(o2.describe + (f" ({s2})" if s2 else ""))
    ax.set_title(f"{ds.attrs.get('scenario_name', '')}: Pareto front ({ds.attrs.get('optimizer', '')})")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return fig


def write_optimization(res: Optimization, target: str | Path, figures: bool = True, overwrite: bool = False) -> Path:
    """Write the result folder of ``res`` atomically (see the module docstring)."""
    extra = {"trials.csv": trials_csv(res), "chosen.toml": chosen_toml(res, res.chosen[0], True)}
    for t in res.chosen:
        extra[f"{t.label}.toml"] = chosen_toml(res, t, False)

    def draw(ds: xr.Dataset, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        out = save(objective_figure(res), folder, "objective")
        if len(res.settings.objectives) == 2:
            out += save(pareto_figure(res), folder, "pareto")
        return out

    return write_result(
        res.validation, target, optimization_text(res.validation), draw if figures else None, extra, overwrite
    )


def _saved(store: Path) -> str | None:
    """Trials finished in the store's journal, as text (None: none yet)."""
    path = store / JOURNAL_FILE
    if not path.exists():
        return None
    done = 0
    for line in path.read_bytes().splitlines():
        try:
            log = json.loads(line)
        except ValueError:
            continue
        if log.get("op_code") == 6 and log.get("state") in (1, 3):  # set trial state: COMPLETE or FAIL
            done += 1
    return f"{done} trials" if done else None


def optimize_to_folder(
    base: Scenario,
    settings: Settings,
    out: str | Path,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    fresh: bool = False,
    overwrite: bool = False,
    figures: bool = True,
    progress: bool = False,
    resume_hint: str = "the same optimisation with resume=True",
    wrap: Callable[[Callable[[], Optimization]], Optimization] | None = None,
) -> tuple[Optimization, Path]:
    """What ``valuecapture optimize`` does, as a function; returns the optimisation and its folder.

    ``wrap(run)`` calls ``run()`` (the CLI turns the API's ValueErrors into usage errors there)."""
    box: dict[str, Optimization] = {}

    def compute(store: Path, again: bool, stop: Callable[[], bool]) -> xr.Dataset:
        def run() -> Optimization:
            return optimize(
                base,
                settings,
                store=store,
                resume=again,
                workers=workers,
                batch_size=batch_size,
                executor=executor,
                scheduler=scheduler,
                progress=progress,
                stop=stop,
            )

        box["res"] = wrap(run) if wrap is not None else run()
        return box["res"].validation

    def write(ds: xr.Dataset, target: Path) -> Path:
        return write_optimization(box["res"], target, figures=figures, overwrite=overwrite)

    _, path = run_in_folder(
        out,
        f"{base.name}-optimize",
        compute,
        write,
        resume=resume,
        fresh=fresh,
        overwrite=overwrite,
        raise_now=False,  # stop between batches and trials, never inside a write to the trials' journal
        resume_hint=resume_hint,
        marker=PLAN_FILE,
        saved=_saved,
    )
    return box["res"], path
