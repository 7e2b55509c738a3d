"""The policy conformance check: :func:`check_policy` runs a policy class on a realistic view.

Every shipped policy passes it (tests/test_policies.py), and a third-party policy should
(docs/policies.md).  It lives in the run layer because the realistic view comes from
running a small firm (:data:`CHECK_SCENARIO`) for two replications.
"""

from __future__ import annotations

import inspect
from dataclasses import fields, replace
from typing import Any

import numpy as np

from valuecapture.model.policies import TieredPolicy, normalize_decision
from valuecapture.run.batch import run_batch
from valuecapture.scenario.load import Scenario, loads

#: A small three-business-model firm on which :func:`review_view_for_check` builds a view.
CHECK_SCENARIO = """
[scenario]
name = "policy_check"
[horizon]
periods = 8
periods_per_year = 4
[customers]
count = 150
[acquisition]
prospects_per_year = 30
[capabilities]
account_managers = 2
accounts_per_manager = 10
review_interval = 2
[choices]
policy = "single"
fixed_cost = 100000
[[choices.business_models]]
name = "standard"
service_cost = 3000
fixed_cost = 50000
[[choices.business_models]]
name = "key_account"
quality = 0.85
adaptation = 0.7
service_cost = 20000
price_factor = 1.04
channel = "key_account_team"
account_management = 0.9
capital_intensity = 0.25
platform = "dedicated"
fixed_cost = 80000
[[choices.business_models]]
name = "transactional"
quality = 0.5
adaptation = 0.0
service_cost = 800
price_factor = 0.97
cost_to_serve_factor = 0.6
channel = "e_channel"
account_management = 0.0
capital_intensity = 0.03
platform = "standard"
fixed_cost = 30000
"""


def review_view_for_check(scenario: Scenario | None = None, seed: int = 0) -> Any:
    """A realistic read-only :class:`~valuecapture.model.policies.PortfolioView`.

    Runs two replications of ``scenario`` (default :data:`CHECK_SCENARIO`) under
    the ``tiered`` policy and returns a frozen copy of the view at its last
    review: mixed business models, observed profits of both signs, filled and
    unfilled slots.
    """
    sc = scenario if scenario is not None else loads(CHECK_SCENARIO, source="<policy check scenario>")

    class _Capture(TieredPolicy):
        last: Any = None

        def decide(self, view: Any) -> Any:
            _Capture.last = view
            frozen = {}
            for f in fields(view):
                val = getattr(view, f.name)
                if isinstance(val, np.ndarray):
                    val = val.copy()
                    val.flags.writeable = False
                frozen[f.name] = val
            _Capture.last = replace(view, **frozen)
            return super().decide(view)

    run_batch(sc, seed, 0, 2, policy=_Capture())
    return _Capture.last


def check_policy(cls: type[Any], scenario: Any = None) -> None:
    """Check that a policy class honours the contract; raise AssertionError if not.

    Checks: constructible with defaults; ``get_params`` returns the keyword
    parameters of ``__init__`` and they round-trip (``cls(**p).get_params() == p``);
    ``decide`` returns a valid assignment on a realistic view, is deterministic,
    and does not modify its input view (arrays are read-only and unchanged).
    """
    try:
        policy = cls()
    except TypeError as exc:
        raise AssertionError(f"{cls.__name__} must be constructible with defaults: {exc}") from None
    params = policy.get_params()
    sig = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert sorted(params) == sorted(sig), (
        f"{cls.__name__}.get_params() keys {sorted(params)} != __init__ parameters {sorted(sig)}"
    )
    again = cls(**params)
    assert again.get_params() == params, f"{cls.__name__}: parameters do not round-trip"
    view = review_view_for_check(scenario)
    before = {k: np.array(v, copy=True) for k, v in vars(view).items() if isinstance(v, np.ndarray)}
    d1 = normalize_decision(policy.decide(view), view.shape, view.n_business_models)
    d2 = normalize_decision(again.decide(view), view.shape, view.n_business_models)
    assert np.array_equal(d1.assignment, d2.assignment), f"{cls.__name__}: same view gave different decisions"
    for k, v in before.items():
        assert np.array_equal(getattr(view, k), v, equal_nan=v.dtype.kind == "f"), f"{cls.__name__} modified view.{k}"
