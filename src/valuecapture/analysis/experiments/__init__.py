"""Designed experiments over scenario fields: designs, sweeps, sensitivity, regression.

The package follows the flow: :mod:`.spec` (what an experiment is) -> :mod:`.parse` (the
file) -> :mod:`.design` (its points) -> :mod:`.sweep` (running them) ->
:mod:`.sensitivity` and :mod:`.effects` (analysis) -> :mod:`.text` (the printed tables).

An **experiment file** (TOML, data only: nothing in it is evaluated) names a
base scenario, optional fixed changes to it, the **factors** (scenario fields
with a range or a list of levels) and a **design**:

* ``full_factorial``: every combination of the factors' levels (a range
  factor needs ``steps``);
* ``latin_hypercube``: ``points`` points, stratified in every factor
  (:class:`scipy.stats.qmc.LatinHypercube`);
* ``sobol``: the Saltelli (2010) scheme on a scrambled Sobol' sequence
  (:class:`scipy.stats.qmc.Sobol`): base matrices A and B of ``points = N`` rows
  (a power of 2) and, for each of the d factors, A with that factor's column
  from B: ``N (d + 2)`` design points;
* ``morris``: ``trajectories`` Morris (1991) trajectories of ``d + 1`` points on a
  ``levels``-level grid (:func:`SALib.sample.morris.sample`), optionally the best spread
  of a ``trajectory_pool`` (Campolongo et al. 2007): ``r (d + 1)`` design points;
* ``oat``: the base scenario and, for each factor, the base with that factor at its
  low and at its high end: ``1 + 2 d`` design points (a tornado chart).

Every design point is a synthetic firm: the base scenario with the factors set
to the point's values, simulated for ``replications`` replications with the
experiment's seed, so replication r faces the same random draws at every point
(common random numbers).  :func:`sweep` returns one Dataset with a
``design_point`` dimension and the factor values as coordinates.

Analyses (see docs/research.md):

* :func:`responses` -- statistics of each point's replications (mean and sd of
  firm value, P(value < 0), mean Gini of relationship value...).
* :func:`sensitivity` -- first-order and total sensitivity indices with
  bootstrap confidence intervals: Saltelli (2010) and Jansen (1999) estimators
  on Sobol designs; the exact ANOVA decomposition on full factorial designs;
  regression-based indices (adjusted R^2 of flexible regressions) on Latin
  hypercubes.
* :func:`morris` -- Morris screening: mu, mu* (with a bootstrap CI over trajectories)
  and sigma of each factor's elementary effects; :func:`tornado` -- one-at-a-time
  swings with Monte Carlo CIs; :func:`index_warning` -- the one-line warning of a
  sweep with too few design points for the indices it reports.
* :func:`regress` / :func:`hypothesis_tests` -- OLS of a response on the
  factors across design points: effect sizes with confidence intervals, and
  one-sided tests such as "does the wallet spread raise the sd of firm value?".
"""

from valuecapture.analysis.experiments.design import (
    DesignTable,
    base_value,
    design,
    design_size,
    morris_unit_design,
    point_scenario,
)
from valuecapture.analysis.experiments.effects import Effect, HypothesisResult, Regression, hypothesis_tests, regress
from valuecapture.analysis.experiments.parse import experiment_of, load_experiment, loads_experiment
from valuecapture.analysis.experiments.screening import (
    WARNING_RULE,
    Morris,
    MorrisIndex,
    Swing,
    Tornado,
    elementary_effects,
    index_warning,
    morris,
    morris_indices,
    tornado,
)
from valuecapture.analysis.experiments.sensitivity import (
    Sensitivity,
    SensitivityIndex,
    factor_names,
    responses,
    sensitivity,
)
from valuecapture.analysis.experiments.spec import (
    DESIGNS,
    RESPONSES,
    SCREENING_DESIGNS,
    Experiment,
    ExperimentError,
    Factor,
    Hypothesis,
    Response,
)
from valuecapture.analysis.experiments.sweep import sweep
from valuecapture.analysis.experiments.text import sweep_text

__all__ = [
    "DESIGNS",
    "RESPONSES",
    "SCREENING_DESIGNS",
    "WARNING_RULE",
    "Morris",
    "MorrisIndex",
    "Swing",
    "Tornado",
    "elementary_effects",
    "index_warning",
    "morris",
    "morris_indices",
    "tornado",
    "DesignTable",
    "Effect",
    "Experiment",
    "ExperimentError",
    "Factor",
    "Hypothesis",
    "HypothesisResult",
    "Regression",
    "Response",
    "Sensitivity",
    "SensitivityIndex",
    "design",
    "design_size",
    "base_value",
    "morris_unit_design",
    "experiment_of",
    "factor_names",
    "hypothesis_tests",
    "load_experiment",
    "loads_experiment",
    "point_scenario",
    "regress",
    "responses",
    "sensitivity",
    "sweep",
    "sweep_text",
]
