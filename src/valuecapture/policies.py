"""Business-model policies: the contract, the built-ins and the registry.

A policy is a small class in the style of scikit-learn estimators: keyword
parameters stored as given in ``__init__`` (no logic there) and one public
decision method, :meth:`Policy.assign`.  It receives a read-only
:class:`PortfolioView` of what the firm can observe and returns the business
model (an index into the scenario's ``[[choices.business_models]]``) for every
customer slot.  Policies never see random generators, so what they decide cannot
change how much randomness a replication consumes.

Third-party packages register policies in the ``valuecapture.policies``
entry-point group; a scenario names a policy by its registered name only.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class PortfolioView:
    """What the firm observes at a review, as read-only arrays.

    Every array is shaped ``(replications in batch, customer slots)``.

    Attributes
    ----------
    period : int
        The period about to start (1-based).
    active : bool array
        Slots holding a live relationship.
    revenue, economic_profit : float arrays
        Last period's observed revenue and economic profit (currency/period).
    trust, share_of_wallet, adaptation : float arrays
        Relationship state (index 0-1).
    age : float array
        Relationship age (periods).
    segment : int array
        Segment index.
    business_model : int array
        Current assignment.
    n_business_models : int
        Number of declared business models.
    """

    period: int
    active: np.ndarray
    revenue: np.ndarray
    economic_profit: np.ndarray
    trust: np.ndarray
    share_of_wallet: np.ndarray
    adaptation: np.ndarray
    age: np.ndarray
    segment: np.ndarray
    business_model: np.ndarray
    n_business_models: int


def make_view(**arrays: Any) -> PortfolioView:
    """Build a view whose arrays are read-only copies-by-reference."""
    out = {}
    for key, val in arrays.items():
        if isinstance(val, np.ndarray):
            val = val.view()
            val.flags.writeable = False
        out[key] = val
    return PortfolioView(**out)


@runtime_checkable
class Policy(Protocol):
    """The policy contract.

    An implementation stores its keyword parameters unchanged in ``__init__``
    and implements :meth:`assign`, which must return an integer array of the
    view's shape with values in ``[0, view.n_business_models)`` and must not
    modify the view.  It must be deterministic: the same view gives the same
    assignment.
    """

    def assign(self, view: PortfolioView) -> np.ndarray:  # pragma: no cover - protocol
        ...


class SinglePolicy:
    """One business model for every relationship.

    Parameters
    ----------
    model : int
        Index of the business model every customer is served by.
    """

    def __init__(self, model: int = 0):
        self.model = model

    def get_params(self) -> dict[str, Any]:
        return {"model": self.model}

    def assign(self, view: PortfolioView) -> np.ndarray:
        if not 0 <= self.model < view.n_business_models:
            raise ValueError(f"single: model index {self.model} out of range (0..{view.n_business_models - 1})")
        return np.full(view.active.shape, self.model, dtype=np.int16)


BUILTIN: dict[str, type] = {"single": SinglePolicy}
ENTRY_POINT_GROUP = "valuecapture.policies"


def registered_policies() -> dict[str, type]:
    """Built-in policies plus those installed through the entry-point group."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in found:
            found[ep.name] = ep  # loaded lazily by get_policy
    return found


def get_policy(name: str, **params: Any) -> Any:
    """Instantiate the policy registered as ``name``."""
    known = registered_policies()
    if name not in known:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(sorted(known))}")
    cls = known[name]
    if not isinstance(cls, type):
        cls = cls.load()
    return cls(**params)


def describe(cls: Any) -> str:
    """First line of a policy class's docstring."""
    doc = (getattr(cls, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""
