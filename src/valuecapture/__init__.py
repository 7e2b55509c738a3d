"""valuecapture: Monte Carlo simulation of B2B customer portfolios.

>>> import valuecapture as vc
>>> sc = vc.load_scenario("scenarios/classroom.toml")      # doctest: +SKIP
>>> ds = vc.simulate(sc, replications=500, seed=1)          # doctest: +SKIP
>>> print(vc.summary_text(ds))                              # doctest: +SKIP
"""

from __future__ import annotations

from valuecapture.analysis.summary import Stats, summary, summary_text
from valuecapture.report.files import write_run
from valuecapture.run.load import open_run, scenario_of
from valuecapture.run.policy_check import check_policy
from valuecapture.run.simulate import simulate, simulate_variants
from valuecapture.scenario.load import Scenario, ScenarioError, load_scenario, loads
from valuecapture.version import __version__

__all__ = [
    "Scenario",
    "ScenarioError",
    "Stats",
    "__version__",
    "check_policy",
    "load_scenario",
    "loads",
    "open_run",
    "scenario_of",
    "simulate",
    "simulate_variants",
    "summary",
    "summary_text",
    "write_run",
]
