"""Scenarios: the schema (one table of fields), TOML loading, ``--set`` overrides, validation
with errors naming file, field and what is allowed, and the distributions of uncertain inputs.

A scenario file is data only: nothing in it is evaluated or imported.  This layer knows
nothing of the model, runs or results.
"""

from valuecapture.scenario.load import Scenario, ScenarioError, load_scenario, loads

__all__ = ["Scenario", "ScenarioError", "load_scenario", "loads"]
