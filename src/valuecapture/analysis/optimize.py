"""Lever optimisation under uncertainty, with an out-of-sample check.

:func:`optimize` searches the levers (:mod:`valuecapture.analysis.levers`) for the setting
with the best statistic of firm value, then re-evaluates the best candidates and the
scenario's current setting on fresh random numbers.

* **Sample-average approximation on common random numbers.**  Every candidate is simulated
  with the same seed and replications, so replication ``r`` of every candidate sees the same
  customers, shocks and churn draws.  The objective is then a deterministic function of the
  levers (the sample average over those replications), differences between candidates are
  not Monte Carlo noise, and a lever the model ignores changes nothing.
* **The optimiser**: optuna's TPE sampler (one objective) or NSGA-II (two objectives: a
  Pareto front), both made for black-box objectives evaluated in batches.  Candidates are
  asked a round at a time (``round_size``) and each round runs as one
  :func:`~valuecapture.run.simulate.simulate_variants` call, so every executor (serial,
  process pool, Dask) evaluates them.  The sampler of trial ``k`` is seeded with
  :func:`sampler_seed` ``(seed, k)``: the same command gives the same trials.
* **Resume.**  Trials live in an optuna journal in the store (``study.journal``), the round
  in flight in its run store (``round-NNNN/``): an interrupted optimisation continues where
  it stopped and ends with the same trials as an uninterrupted one.
* **Out of sample.**  The best ``top`` candidates (the Pareto front's members for two
  objectives) and the current setting run again with :func:`validation_seed` ``(seed)``, a
  seed never used by the search, on common random numbers among themselves.  The best
  in-sample value is biased upward (it is the maximum of noisy estimates: the optimiser's
  optimism); the fresh-seed value is not, and the paired difference against the current
  setting says whether the change is worth making.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from valuecapture.analysis.compare import PairedDifference
from valuecapture.analysis.levers import Lever, LeverError, check_setting
from valuecapture.analysis.stats import bootstrap_ci, expected_shortfall
from valuecapture.analysis.summary import _fmt
from valuecapture.run.outputs import write_file
from valuecapture.run.simulate import MAX_SEED, simulate_variants
from valuecapture.run.store import StoreError
from valuecapture.scenario.load import Scenario
from valuecapture.version import __version__

#: Tags of the optimiser's seeds (``SeedSequence([seed, tag, ...])``), apart from the replications' streams.
SAMPLER_TAG = 0x0B7153
VALIDATION_TAG = 0x0F5A3E
#: The store's plan file (its presence makes a store one to resume) and the trials' journal.
PLAN_FILE = "optimize.json"
JOURNAL_FILE = "study.journal"
STUDY_NAME = "valuecapture-optimize"
CURRENT = "current"
OBJECTIVES = ("mean", "es5", "p_loss", "mean-risk:LAMBDA")


@dataclass(frozen=True)
class Objective:
    """A statistic of firm value to maximise (``p_loss``: minimise)."""

    name: str  # mean | es5 | p_loss | mean-risk:LAMBDA
    lam: float = 0.0

    @property
    def direction(self) -> str:
        return "minimize" if self.name == "p_loss" else "maximize"

    @property
    def money(self) -> bool:
        return self.name != "p_loss"

    @property
    def describe(self) -> str:
        if self.name == "mean":
            return "mean firm value"
        if self.name == "es5":
            return "expected shortfall of firm value (mean of the worst 5%)"
        if self.name == "p_loss":
            return "P(firm value < 0)"
        return f"mean - {self.lam:g} x sd of firm value"

    @property
    def key(self) -> str:
        """A variable-name-safe name."""
        return "mean_risk" if self.name.startswith("mean-risk") else self.name

    def value(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        """The statistic of ``x`` along ``axis`` (vectorised, for the bootstrap)."""
        x = np.asarray(x, dtype=float)
        if self.name == "mean":
            return np.asarray(x.mean(axis=axis))
        if self.name == "es5":
            return np.asarray(expected_shortfall(x, 0.05, axis=axis))
        if self.name == "p_loss":
            return np.asarray((x < 0).mean(axis=axis))
        return np.asarray(x.mean(axis=axis) - self.lam * x.std(axis=axis, ddof=1))

    def better(self, a: float, b: float) -> bool:
        return a < b if self.direction == "minimize" else a > b


def parse_objective(text: str) -> Objective:
    """``mean``, ``es5``, ``p_loss`` or ``mean-risk:LAMBDA`` (LAMBDA >= 0); ValueError otherwise."""
    t = text.strip()
    if t in ("mean", "es5", "p_loss"):
        return Objective(t)
    if t.startswith("mean-risk:"):
        try:
            lam = float(t.split(":", 1)[1])
        except ValueError:
            lam = float("nan")
        if not (math.isfinite(lam) and lam >= 0):
            raise ValueError(f"mean-risk:LAMBDA needs a number LAMBDA >= 0, got {t!r}")
        return Objective(f"mean-risk:{lam:g}", lam)
    raise ValueError(f"unknown objective {t!r}; allowed: {', '.join(OBJECTIVES)}")


def sampler_seed(seed: int, trial: int) -> int:
    """The seed of the sampler that proposes trial ``trial`` of an optimisation with root ``seed``."""
    return int(np.random.SeedSequence([int(seed), SAMPLER_TAG, int(trial)]).generate_state(1)[0])


def validation_seed(seed: int) -> int:
    """The root seed of the out-of-sample runs: ``SeedSequence([seed, VALIDATION_TAG])``'s first
    64-bit word modulo ``MAX_SEED + 1``, moved by one if it equals ``seed`` (never the search's)."""
    word = int(np.random.SeedSequence([int(seed), VALIDATION_TAG]).generate_state(1, np.uint64)[0])
    v = word % (MAX_SEED + 1)
    return v if v != seed else (v + 1) % (MAX_SEED + 1)


@dataclass(frozen=True)
class Settings:
    """Everything an optimisation's result depends on (besides the base scenario)."""

    levers: tuple[Lever, ...]
    objectives: tuple[Objective, ...]
    seed: int
    replications: int = 200
    trials: int = 40
    round_size: int = 8
    validate_replications: int = 1000
    top: int = 3

    def __post_init__(self) -> None:
        if not self.levers:
            raise LeverError("--lever: give at least one lever")
        if len(self.objectives) not in (1, 2):
            raise ValueError("give one objective, or two for a Pareto front")
        if len(self.objectives) == 2 and self.objectives[0] == self.objectives[1]:
            raise ValueError("--objectives: the two objectives must differ")
        for name, v, lo in (
            ("--trials", self.trials, 1),
            ("--round-size", self.round_size, 1),
            ("--replications", self.replications, 2),
            ("--validate-replications", self.validate_replications, 2),
            ("--top", self.top, 1),
        ):
            if v < lo:
                raise ValueError(f"{name} must be at least {lo}, got {v}")
        if len(self.objectives) == 2 and self.round_size < 2:
            raise ValueError("--round-size: NSGA-II (two objectives) needs a population of at least 2")

    @property
    def rounds(self) -> int:
        return math.ceil(self.trials / self.round_size)

    def meta(self, base: Scenario) -> dict[str, Any]:
        return {
            "format": 1,
            "version": __version__,
            "scenario_toml": base.to_toml(),
            "levers": [lv.text for lv in self.levers],
            "objectives": [o.name for o in self.objectives],
            "seed": self.seed,
            "replications": self.replications,
            "trials": self.trials,
            "round_size": self.round_size,
            "validate_replications": self.validate_replications,
            "top": self.top,
        }


@dataclass(frozen=True)
class Trial:
    """One evaluated candidate of the search."""

    number: int
    params: dict[str, Any]
    values: tuple[float, ...] | None  # objective values; None when the setting is invalid
    firm_value: np.ndarray | None = field(default=None, repr=False)
    error: str = ""

    @property
    def label(self) -> str:
        return f"trial-{self.number:04d}"


@dataclass
class Optimization:
    """An optimisation's outcome: the trials, the validated candidates and the validation Dataset."""

    base: Scenario
    settings: Settings
    trials: list[Trial]
    current_in_sample: np.ndarray
    chosen: list[Trial]  # the validated candidates, best first
    validation: xr.Dataset  # dims candidate x replication; candidate 0 is the current setting

    def scenario_of(self, trial: Trial) -> Scenario:
        return self.base.with_values({lv.field: lv.cast(trial.params[lv.field]) for lv in self.settings.levers})


#: ``evaluate(round_number, {label: scenario}) -> {label: firm values}``: one round's simulations.
Evaluate = Callable[[int, Mapping[str, Scenario]], Mapping[str, np.ndarray]]


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def _distributions(levers: Sequence[Lever]) -> dict[str, Any]:
    d = _optuna().distributions
    out: dict[str, Any] = {}
    for lv in levers:
        if lv.kind == "category":
            out[lv.field] = d.CategoricalDistribution(list(lv.choices))
        elif lv.kind == "int":
            out[lv.field] = d.IntDistribution(int(lv.low or 0), int(lv.high or 0), log=lv.log)
        else:
            out[lv.field] = d.FloatDistribution(float(lv.low or 0.0), float(lv.high or 0.0), log=lv.log)
    return out


def _sampler(s: Settings, trial: int) -> Any:
    optuna = _optuna()
    seed = sampler_seed(s.seed, trial)
    if len(s.objectives) == 2:
        return optuna.samplers.NSGAIISampler(population_size=s.round_size, seed=seed)
    startup = min(max(s.round_size, 10), max(1, s.trials // 2))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True)


def _repair_journal(path: Path) -> None:
    """Drop a last line left half-written by a kill (the journal's other lines are complete)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _open_study(store: Path, s: Settings) -> Any:
    optuna = _optuna()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = store / JOURNAL_FILE
    _repair_journal(path)
    storage = JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
    return optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        directions=[o.direction for o in s.objectives],
        sampler=_sampler(s, 0),
        load_if_exists=True,
    )


def _check_plan(store: Path, base: Scenario, s: Settings, resume: bool) -> None:
    mine = s.meta(base)
    plan = store / PLAN_FILE
    if not resume:
        store.mkdir(parents=True, exist_ok=True)
        tmp = store / (PLAN_FILE + ".tmp")
        write_file(tmp, json.dumps(mine, indent=1) + "\n")
        tmp.replace(plan)
        return
    try:
        theirs = json.loads(plan.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StoreError(f"--resume: cannot read {plan}: {exc}; use --fresh to start over") from None
    for key in mine:
        if key != "version" and theirs.get(key) != mine[key]:
            what = "scenario (or --set overrides)" if key == "scenario_toml" else key.replace("_", " ")
            raise StoreError(
                f"--resume: the interrupted optimisation in {store} has another {what} ({theirs.get(key)!r}); rerun "
                "with the same options, or use --fresh to start over"
            )


def _set_trial_attr(study: Any, number: int, key: str, value: Any) -> None:
    """Set a user attribute of trial ``number`` (asked now or in an interrupted run)."""
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    study._storage.set_trial_user_attr(trial_id, key, value)


def search(
    base: Scenario,
    s: Settings,
    evaluate: Evaluate,
    store: Path,
    resume: bool = False,
    stop: Callable[[], bool] | None = None,
) -> tuple[list[Trial], np.ndarray]:
    """Run (or continue) the search: ``s.trials`` trials in rounds of ``s.round_size``.

    Each round asks its trials (the sampler of trial ``k`` seeded by :func:`sampler_seed`),
    refuses invalid settings (a failed trial, with the scenario's message), and evaluates the
    valid ones with ``evaluate`` (the first round also the current setting).  Returns the
    trials and the current setting's in-sample firm values."""
    optuna = _optuna()
    _check_plan(store, base, s, resume)
    study = _open_study(store, s)
    dists = _distributions(s.levers)
    fail, complete = optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE
    for r in range(s.rounds):
        numbers = range(r * s.round_size, min(s.trials, (r + 1) * s.round_size))
        if stop is not None and stop():
            raise KeyboardInterrupt
        existing = {t.number: t for t in study.get_trials(deepcopy=False)}
        if all(n in existing and existing[n].state.is_finished() for n in numbers) and (
            r > 0 or "current_firm_value" in study.user_attrs
        ):
            continue
        todo: dict[int, Scenario] = {}
        for n in numbers:
            t = existing.get(n)
            if t is None:
                if len(study.get_trials(deepcopy=False)) != n:  # pragma: no cover - a journal edited by hand
                    raise StoreError(f"{store}: the trials journal is out of order; use --fresh to start over")
                study.sampler = _sampler(s, n)
                params = study.ask(dists).params
            elif t.state.is_finished():
                continue
            else:
                params = t.params
            try:
                todo[n] = check_setting(base, {lv.field: lv.cast(params[lv.field]) for lv in s.levers})
            except LeverError as exc:
                _set_trial_attr(study, n, "error", str(exc))
                study.tell(n, state=fail)
        variants: dict[str, Scenario] = {}
        if r == 0 and "current_firm_value" not in study.user_attrs:
            variants[CURRENT] = base
        variants.update({f"trial-{n:04d}": sc for n, sc in todo.items()})
        if not variants:
            continue
        values = evaluate(r, variants)
        if CURRENT in variants:
            study.set_user_attr("current_firm_value", [float(v) for v in values[CURRENT]])
        for n in todo:
            fv = np.asarray(values[f"trial-{n:04d}"], dtype=float)
            objective = [float(o.value(fv)) for o in s.objectives]
            _set_trial_attr(study, n, "firm_value", [float(v) for v in fv])
            if all(math.isfinite(v) for v in objective):
                study.tell(n, objective)
            else:
                _set_trial_attr(study, n, "error", "the objective is not finite")
                study.tell(n, state=fail)
        shutil.rmtree(store / f"round-{r:04d}", ignore_errors=True)  # the round's run store: its trials are told
    trials = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)[: s.trials]:
        fv = t.user_attrs.get("firm_value")
        trials.append(
            Trial(
                t.number,
                dict(t.params),
                tuple(float(v) for v in t.values) if t.state == complete else None,
                None if fv is None else np.asarray(fv, dtype=float),
                str(t.user_attrs.get("error", "")),
            )
        )
    return trials, np.asarray(study.user_attrs["current_firm_value"], dtype=float)


def select(trials: Sequence[Trial], s: Settings) -> list[Trial]:
    """The candidates to validate, best first: the ``top`` best distinct settings (one objective) or
    the Pareto front's members (two objectives, by the first), at most ``top``."""
    done = [t for t in trials if t.values is not None]
    seen: set[str] = set()
    distinct = []
    for t in done:
        key = json.dumps(t.params, sort_keys=True)
        if key not in seen:
            seen.add(key)
            distinct.append(t)
    o = s.objectives

    def score(t: Trial, i: int) -> float:
        assert t.values is not None
        return -t.values[i] if o[i].direction == "maximize" else t.values[i]

    if len(o) == 1:
        return sorted(distinct, key=lambda t: (score(t, 0), t.number))[: s.top]
    front = [
        t
        for t in distinct
        if not any(
            all(score(u, i) <= score(t, i) for i in range(2)) and any(score(u, i) < score(t, i) for i in range(2))
            for u in distinct
        )
    ]
    return sorted(front, key=lambda t: (score(t, 0), t.number))[: s.top]


def optimize(
    base: Scenario,
    s: Settings,
    *,
    store: str | Path,
    resume: bool = False,
    workers: int | None = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    progress: bool = False,
    stop: Callable[[], bool] | None = None,
) -> Optimization:
    """Search the levers on common random numbers, then validate the best on fresh seeds.

    ``store``: the folder of the trials' journal and the run stores of the round in flight and
    of the validation (``resume``: continue the optimisation in it).  The executor options are
    those of :func:`~valuecapture.run.simulate.simulate` and never change a result."""
    store = Path(store)
    runner: dict[str, Any] = dict(
        workers=workers, batch_size=batch_size, executor=executor, scheduler=scheduler, progress=progress, stop=stop
    )

    def run(folder: Path, variants: Mapping[str, Scenario], reps: int, seed: int, keep: str) -> xr.Dataset:
        again = (folder / "run.json").exists()
        if folder.exists() and not again:
            shutil.rmtree(folder)  # killed before its plan was written: nothing in it
        return simulate_variants(variants, "candidate", reps, seed, keep=keep, store=folder, resume=again, **runner)

    def evaluate(r: int, variants: Mapping[str, Scenario]) -> dict[str, np.ndarray]:
        folder = store / f"round-{r:04d}"
        ds = run(folder, variants, s.replications, s.seed, "replication")
        out = {str(c): ds["firm_value"].sel(candidate=c).values for c in variants}
        return out

    trials, current = search(base, s, evaluate, store, resume, stop)
    for old in store.glob("round-*"):
        shutil.rmtree(old, ignore_errors=True)
    chosen = select(trials, s)
    if not chosen:
        raise LeverError("no candidate setting could be evaluated (every trial's setting was invalid)")
    result = Optimization(base, s, trials, current, chosen, xr.Dataset())
    variants = {CURRENT: base, **{t.label: result.scenario_of(t) for t in chosen}}
    ds = run(store / "validation", variants, s.validate_replications, validation_seed(s.seed), "all")
    result.validation = _annotate(ds, result)
    return result


def _ci(x: Sequence[np.ndarray], stat: Callable[..., np.ndarray], seed: int) -> tuple[float, float]:
    low, high = bootstrap_ci(list(x), stat, seed=seed, n_resamples=1000, method="percentile")
    return float(low), float(high)


def _annotate(ds: xr.Dataset, res: Optimization) -> xr.Dataset:
    """The validation Dataset with the in-sample and out-of-sample objectives, their CIs, the
    optimism and the paired difference against the current setting, and the provenance."""
    s = res.settings
    labels = [str(c) for c in ds["candidate"].values]
    insample = {CURRENT: res.current_in_sample, **{t.label: t.firm_value for t in res.chosen}}
    fv = {c: ds["firm_value"].sel(candidate=c).values for c in labels}
    vseed = int(ds.attrs["seed"])
    for o in s.objectives:
        cols: dict[str, list[float]] = {k: [] for k in ("in", "in_lo", "in_hi", "out", "out_lo", "out_hi")}
        cols.update({k: [] for k in ("diff", "diff_lo", "diff_hi", "gain_in")})
        for c in labels:
            x_in = np.asarray(insample[c], dtype=float)
            cols["in"].append(float(o.value(x_in)))
            lo, hi = _ci([x_in], o.value, s.seed)
            cols["in_lo"].append(lo)
            cols["in_hi"].append(hi)
            cols["out"].append(float(o.value(fv[c])))
            lo, hi = _ci([fv[c]], o.value, vseed)
            cols["out_lo"].append(lo)
            cols["out_hi"].append(hi)
            cols["gain_in"].append(cols["in"][-1] - float(o.value(np.asarray(insample[CURRENT], dtype=float))))
            if c == CURRENT:
                d, lo, hi = 0.0, 0.0, 0.0
            else:

                def diff(a: np.ndarray, b: np.ndarray, axis: int = -1, o: Objective = o) -> np.ndarray:
                    return np.asarray(o.value(a, axis=axis) - o.value(b, axis=axis))

                d = float(diff(fv[c], fv[CURRENT]))
                lo, hi = _ci([fv[c], fv[CURRENT]], diff, vseed)
            cols["diff"].append(d)
            cols["diff_lo"].append(lo)
            cols["diff_hi"].append(hi)
        units = ds["firm_value"].attrs.get("units", "-") if o.money else "1"
        names = {
            "in": ("in_sample", f"in-sample {o.describe} (search seed {s.seed}, {s.replications} replications)"),
            "in_lo": ("in_sample_low", "lower end of the 95% bootstrap CI of the in-sample objective"),
            "in_hi": ("in_sample_high", "upper end of the 95% bootstrap CI of the in-sample objective"),
            "out": ("out_of_sample", f"out-of-sample {o.describe} (seed {vseed}, never used by the search)"),
            "out_lo": ("out_of_sample_low", "lower end of the 95% bootstrap CI of the out-of-sample objective"),
            "out_hi": ("out_of_sample_high", "upper end of the 95% bootstrap CI of the out-of-sample objective"),
            "diff": (
                "vs_current",
                "out-of-sample objective minus the current setting's, paired (common random numbers)",
            ),
            "diff_lo": ("vs_current_low", "lower end of the paired 95% bootstrap CI of vs_current"),
            "diff_hi": ("vs_current_high", "upper end of the paired 95% bootstrap CI of vs_current"),
            "gain_in": ("in_sample_vs_current", "in-sample objective minus the current setting's on the search seed"),
        }
        for k, (suffix, desc) in names.items():
            ds[f"{o.key}_{suffix}"] = xr.Variable(
                ("candidate",), np.asarray(cols[k]), {"units": units, "description": desc}
            )
        ds[f"{o.key}_optimism"] = xr.Variable(
            ("candidate",),
            np.asarray(cols["in"]) - np.asarray(cols["out"]),
            {"units": units, "description": "in-sample minus out-of-sample objective (the optimiser's optimism bias)"},
        )
        ds[f"{o.key}_gain_optimism"] = xr.Variable(
            ("candidate",),
            np.asarray(cols["gain_in"]) - np.asarray(cols["diff"]),
            {
                "units": units,
                "description": "in-sample minus out-of-sample gain over the current setting (optimism bias of the "
                "gain; the seeds' common noise cancels in it)",
            },
        )
    pd_ = [PairedDifference.of(c, CURRENT, fv[c], fv[CURRENT]) for c in labels]
    for name, get, desc in (
        ("mean_difference", lambda p: p.mean, "mean firm value minus the current setting's (paired, out of sample)"),
        ("mean_difference_low", lambda p: p.ci_low, "lower end of its 95% t interval"),
        ("mean_difference_high", lambda p: p.ci_high, "upper end of its 95% t interval"),
        ("p_beats_current", lambda p: p.p_a_beats_b, "share of validation replications above the current setting"),
    ):
        units = "1" if name.startswith("p_") else ds["firm_value"].attrs.get("units", "-")
        values = [0.0 if c == CURRENT else float(get(p)) for c, p in zip(labels, pd_, strict=True)]
        ds[name] = xr.Variable(("candidate",), np.asarray(values), {"units": units, "description": desc})
    params = {t.label: {lv.field: lv.cast(t.params[lv.field]) for lv in s.levers} for t in res.chosen}
    params[CURRENT] = {lv.field: _current(res.base, lv) for lv in s.levers}
    ds.attrs.update(
        {
            "kind": "optimization",
            "levers": json.dumps([lv.text for lv in s.levers]),
            "objectives": json.dumps([o.name for o in s.objectives]),
            "search_seed": s.seed,
            "search_replications": s.replications,
            "validation_seed": vseed,
            "trials": s.trials,
            "trials_complete": sum(t.values is not None for t in res.trials),
            "round_size": s.round_size,
            "top": s.top,
            "candidate_settings": json.dumps(params),
            "optimizer": "optuna " + ("NSGA-II" if len(s.objectives) == 2 else "TPE") + f" {_optuna().__version__}",
        }
    )
    return ds


def _current(base: Scenario, lv: Lever) -> Any:
    try:
        return base.get(lv.field)
    except (KeyError, IndexError, TypeError):
        return None


def optimization_text(ds: xr.Dataset) -> str:
    """The summary of an optimisation result (its validation Dataset)."""
    levers = json.loads(ds.attrs["levers"])
    objectives = [parse_objective(o) for o in json.loads(ds.attrs["objectives"])]
    settings = json.loads(ds.attrs["candidate_settings"])
    labels = [str(c) for c in ds["candidate"].values]
    n_out = ds.sizes["replication"]
    lines = [
        f"Optimisation of {ds.attrs.get('scenario_name', '')}: {ds.attrs['trials_complete']} of {ds.attrs['trials']} "
        f"trials evaluated ({ds.attrs['optimizer']}, rounds of {ds.attrs['round_size']})",
        "levers: " + "; ".join(levers),
        "objective" + ("s" if len(objectives) > 1 else "") + ": " + "; ".join(o.describe for o in objectives),
        f"search: seed {ds.attrs['search_seed']}, {ds.attrs['search_replications']} replications per candidate "
        "(common random numbers); validation: seed "
        f"{ds.attrs['validation_seed']} (never used by the search), {n_out} replications",
        "",
    ]
    for lv in levers:
        f = lv.split("=", 1)[0]
        lines.append(f"{f}: " + ", ".join(f"{c} = {_show(settings[c].get(f))}" for c in labels))
    for o in objectives:
        k = o.key

        def v(x: float, o: Objective = o) -> str:
            return _fmt(x, True) if o.money else f"{x:.3f}"

        lines += [
            "",
            f"{o.describe} ({'higher' if o.direction == 'maximize' else 'lower'} is better), 95% bootstrap CIs:",
            f"{'candidate':12s} {'in-sample':>10s} {'[95% CI]':>22s} {'out-of-sample':>13s} {'[95% CI]':>22s} "
            f"{'optimism':>10s}",
        ]
        for i, c in enumerate(labels):

            def ci(name: str, i: int = i, k: str = k) -> str:
                return f"[{v(float(ds[f'{k}_{name}_low'][i]))}, {v(float(ds[f'{k}_{name}_high'][i]))}]"

            lines.append(
                f"{c:12s} {v(float(ds[f'{k}_in_sample'][i])):>10s} {ci('in_sample'):>22s} "
                f"{v(float(ds[f'{k}_out_of_sample'][i])):>13s} {ci('out_of_sample'):>22s} "
                f"{v(float(ds[f'{k}_optimism'][i])):>10s}"
            )
        lines += [
            "gain over the current setting (paired: common random numbers within each run):",
            f"{'candidate':12s} {'in-sample':>10s} {'out-of-sample':>13s} {'[95% CI]':>22s} {'optimism':>10s}",
        ]
        for i, c in enumerate(labels):
            if c != CURRENT:
                lines.append(
                    f"{c:12s} {v(float(ds[f'{k}_in_sample_vs_current'][i])):>10s} "
                    f"{v(float(ds[f'{k}_vs_current'][i])):>13s} {ci('vs_current', i):>22s} "
                    f"{v(float(ds[f'{k}_gain_optimism'][i])):>10s}"
                )
    lines += ["", "mean firm value against the current setting, out of sample (paired, 95% t interval):"]
    for i, c in enumerate(labels):
        if c != CURRENT:
            d, lo, hi = (float(ds[n][i]) for n in ("mean_difference", "mean_difference_low", "mean_difference_high"))
            lines.append(
                f"{c:12s} {_fmt(d, True):>10s} [{_fmt(lo, True)}, {_fmt(hi, True)}]  P(beats current) = "
                f"{float(ds['p_beats_current'][i]):.3f}"
            )
    lines += [
        "",
        f"chosen: {labels[1]} (the best in-sample; its out-of-sample value is an unbiased estimate). The in-sample "
        "value of the best of many candidates is biased upward (optimism = in-sample minus out-of-sample; that of the "
        "gain is free of the seeds' common noise).",
    ]
    return "\n".join(lines)


def _show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return "(not set)" if v is None else str(v)
