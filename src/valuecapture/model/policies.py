"""Business-model policies: the contract, the built-ins, the registry and ``check_policy``.

A policy is a small class in the style of scikit-learn estimators: keyword
parameters stored unchanged in ``__init__`` (no logic there), ``get_params()``
returning them, and one public decision method, :meth:`Policy.decide`.  At each
relationship review it receives a read-only :class:`PortfolioView` of what the
firm can observe and returns the business model (an index into the scenario's
``[[choices.business_models]]``) for every customer slot, optionally with
capability investments (a :class:`Decision`).  Policies never see random
generators, so what they decide cannot change the random numbers a
replication draws (common random numbers).

Third-party packages register policy classes in the ``valuecapture.model.policies``
entry-point group::

    [project.entry-points."valuecapture.model.policies"]
    my_policy = "my_package.policies:MyPolicy"

and a scenario or ``valuecapture compare --policies`` names them by that name.
"""

from __future__ import annotations

import inspect
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from valuecapture.model.portfolio_models import get_portfolio_model

CAPABILITY_KEYS = ("insight_level", "platform_level", "account_managers", "interactions")


@dataclass(frozen=True)
class PortfolioView:
    """What the firm observes at a review, as read-only arrays.

    Arrays are shaped ``(replications in batch, customer slots)`` unless noted;
    slots that are not (yet) customers hold junk and are ``active == False``.

    Attributes
    ----------
    period : int
        The period about to start (1-based).
    periods_per_year : int
    active : bool array
        Slots holding a live relationship.
    observed_profit : float array
        Economic profit per period of each relationship *as the firm sees it*:
        delayed and noisy according to its customer-insight level (currency/period).
    revenue : float array
        Last period's revenue (currency/period), from the invoices: exact.
    price : float array
        Net price realised, fraction of list price (under the current business model).
    cost_to_serve : float array
        Cost to serve as a fraction of revenue (under the current business model).
    trust, share_of_wallet, adaptation : float arrays
        Relationship state (index 0-1).
    age : float array
        Relationship age in periods.
    segment : int array
    growth : float array
        Annual growth of the customer's wallet (its business; known to the firm).
    customer_view : float array
        The treatment level (0 leanest - 1 richest) the customer expects from us,
        where the firm learned it in an interaction space within
        ``alignment.legitimacy_window`` periods; NaN where unknown (always NaN
        unless ``alignment.enabled``).
    business_model : int array
        Current assignment.
    business_models : tuple of dict
        The declared business models' elements, with their internal ``fit`` and
        ``needs_manager``.
    account_capacity : int array (replications,)
        Relationships the account managers can hold.
    insight_level, platform_level : float arrays (replications,)
    account_managers : int array (replications,)
    stage : int8 array or None
        The relationship's stage (an index into ``stage_names``) with ``stages.enabled``,
        else None.
    stage_names : tuple of str
        The stages of ``stages.names`` in order (empty without stages).
    """

    period: int
    periods_per_year: int
    active: np.ndarray
    observed_profit: np.ndarray
    revenue: np.ndarray
    price: np.ndarray
    cost_to_serve: np.ndarray
    trust: np.ndarray
    share_of_wallet: np.ndarray
    adaptation: np.ndarray
    age: np.ndarray
    segment: np.ndarray
    growth: np.ndarray
    customer_view: np.ndarray
    business_model: np.ndarray
    business_models: tuple[Mapping[str, Any], ...]
    account_capacity: np.ndarray
    insight_level: np.ndarray
    platform_level: np.ndarray
    account_managers: np.ndarray
    stage: np.ndarray | None = None
    stage_names: tuple[str, ...] = ()

    @property
    def n_business_models(self) -> int:
        return len(self.business_models)

    @property
    def shape(self) -> tuple[int, int]:
        return self.active.shape  # type: ignore[return-value]

    def richest_to_leanest(self) -> list[int]:
        """Business-model indices ordered by service cost per customer, richest first."""
        return sorted(
            range(self.n_business_models),
            key=lambda k: (-self.business_models[k]["service_cost"], -self.business_models[k]["quality"], k),
        )

    def classify(self, portfolio_model: str) -> np.ndarray:
        """Class index of every slot under a supplier-side portfolio model (see
        :mod:`valuecapture.model.portfolio_models`; class names in ``.classes`` of
        ``get_portfolio_model(name)``)."""
        model = get_portfolio_model(portfolio_model)
        if model.side != "supplier":
            raise ValueError(
                f"portfolio model {portfolio_model!r} is the customer's view; "
                "the firm sees it only through view.customer_view"
            )
        return model.classify(self)

    def treatment_levels(self) -> np.ndarray:
        """Treatment level of each business model (1 richest, 0 leanest), as in alignment."""
        order = self.richest_to_leanest()
        k = len(order)
        out = np.full(k, 0.5)
        if k > 1:
            out[order] = 1.0 - np.arange(k) / (k - 1)
        return out

    def leanest_without_manager(self) -> int:
        return [k for k in self.richest_to_leanest() if not self.business_models[k]["needs_manager"]][-1]

    def in_stage(self, name: str) -> np.ndarray:
        """Active relationships in the stage ``name`` (all False without stages); an unknown
        name raises ValueError naming the stages."""
        if not self.stage_names or self.stage is None:
            return np.zeros(self.shape, dtype=bool)
        if name not in self.stage_names:
            raise ValueError(f"unknown stage {name!r}; stages: {', '.join(self.stage_names)}")
        return self.active & (self.stage == self.stage_names.index(name))


def make_view(**fields: Any) -> PortfolioView:
    """Build a view whose arrays are read-only views of the engine's arrays."""
    out = {}
    for key, val in fields.items():
        if isinstance(val, np.ndarray):
            val = val.view()
            val.flags.writeable = False
        out[key] = val
    return PortfolioView(**out)


@dataclass(frozen=True)
class Decision:
    """A policy's decision: business model per slot, and optional capability levels.

    ``capabilities`` may set ``insight_level`` and ``platform_level`` (0-1) and
    ``account_managers`` (a count), each a scalar or one value per replication;
    they hold from this review on and are paid for every period.
    ``interactions`` maps interaction-space names to a boolean array (slots that
    take part at its occurrences until the next review; capacity still applies).
    """

    assignment: np.ndarray
    capabilities: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """The policy contract.

    ``__init__`` takes keyword parameters with defaults and stores them as
    attributes of the same name, with no other logic; ``get_params()`` returns
    them.  ``decide(view)`` returns an integer array of ``view.shape`` with
    values in ``[0, view.n_business_models)`` -- or a :class:`Decision` holding
    one -- must not modify the view, and must be deterministic.
    """

    def get_params(self) -> dict[str, Any]:  # pragma: no cover - protocol
        ...

    def decide(self, view: PortfolioView) -> np.ndarray | Decision:  # pragma: no cover - protocol
        ...


class BasePolicy:
    """Convenience base: ``get_params`` from the ``__init__`` signature, and a repr.

    ``ranges`` names the closed interval a numeric parameter must lie in; the scenario
    check and ``compare --policies`` refuse values outside it before a run starts."""

    ranges: ClassVar[dict[str, tuple[float, float]]] = {}

    def get_params(self) -> dict[str, Any]:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def _by_name_or_index(view: PortfolioView, model: int | str) -> int:
    if isinstance(model, str):
        names = [bm["name"] for bm in view.business_models]
        if model not in names:
            raise ValueError(f"unknown business model {model!r}; declared: {', '.join(names)}")
        return names.index(model)
    if not 0 <= model < view.n_business_models:
        raise ValueError(f"business model index {model} out of range (0..{view.n_business_models - 1})")
    return int(model)


def _rank_share(values: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per replication, each active slot's share of active slots with a higher value (0 = best)."""
    v = np.where(active, values, -np.inf)
    order = np.argsort(-v, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(v.shape[1])[None, :].repeat(v.shape[0], axis=0), axis=1)
    n = np.maximum(active.sum(axis=1, keepdims=True), 1)
    return ranks / n


def _nothing_observed(view: PortfolioView) -> bool:
    """True before the firm has observed any relationship profit (e.g. at the first review)."""
    return not np.any(view.observed_profit[view.active])


def _quantile_split(x: np.ndarray, active: np.ndarray, q: float) -> np.ndarray:
    """Per replication, True where x is above the ``q`` quantile of the active slots (numpy's
    median itself at 0.5, so the default splits exactly as the median always did)."""
    if q == 0.5:
        return _median_split(x, active)
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"a split quantile must be in [0, 1], got {q}")
    cut = np.array([np.quantile(row[a], q) if a.any() else 0.0 for row, a in zip(x, active, strict=True)])
    return x > cut[:, None]


def _median_split(x: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per replication, True where x is above the median of the active slots."""
    med = np.array(
        [np.median(row[a]) if a.any() else 0.0 for row, a in zip(x, active, strict=True)]
    )  # one per replication
    return x > med[:, None]


class SinglePolicy(BasePolicy):
    """One business model for every relationship.

    Parameters
    ----------
    model : int or str
        The business model (index or name) that serves every customer.
    """

    def __init__(self, model: int | str = 0):
        self.model = model

    def decide(self, view: PortfolioView) -> np.ndarray:
        return np.full(view.shape, _by_name_or_index(view, self.model), dtype=np.int16)


class TieredPolicy(BasePolicy):
    """Key-account / standard / transactional tiers by observed relationship value.

    The richest business model serves the top ``top_share`` of relationships by
    observed profit, the next richest the following ``middle_share``, the leanest
    the rest (with two business models: top tier and the rest).  New customers
    start in the middle tier.  Before any profit has been observed (the first
    review) assignments stay as they are.

    Parameters
    ----------
    top_share, middle_share : float
        Shares of active relationships in the top and middle tiers.
    top_model, middle_model, lean_model : int or str or None
        The business model (index or name) of each tier; None: the richest, the next
        richest and the leanest by intensity.
    """

    ranges: ClassVar[dict[str, tuple[float, float]]] = {"top_share": (0.0, 1.0), "middle_share": (0.0, 1.0)}

    def __init__(
        self,
        top_share: float = 0.1,
        middle_share: float = 0.5,
        top_model: int | str | None = None,
        middle_model: int | str | None = None,
        lean_model: int | str | None = None,
    ):
        self.top_share = top_share
        self.middle_share = middle_share
        self.top_model = top_model
        self.middle_model = middle_model
        self.lean_model = lean_model

    def decide(self, view: PortfolioView) -> np.ndarray:
        order = view.richest_to_leanest()
        top, lean = order[0], order[-1]
        middle = order[1] if len(order) > 2 else lean
        top = top if self.top_model is None else _by_name_or_index(view, self.top_model)
        middle = middle if self.middle_model is None else _by_name_or_index(view, self.middle_model)
        lean = lean if self.lean_model is None else _by_name_or_index(view, self.lean_model)
        if _nothing_observed(view):  # no basis for tiers yet: keep the current models
            return np.where(view.active, view.business_model, middle).astype(np.int16)
        rank = _rank_share(view.observed_profit, view.active)
        out = np.where(rank < self.top_share, top, np.where(rank < self.top_share + self.middle_share, middle, lean))
        return np.where(view.active, out, middle).astype(np.int16)


class MatrixPolicy(BasePolicy):
    """Assignment from the Shapiro et al. (1987) net price x cost-to-serve matrix.

    Above/below the ``price_split`` quantile of net price and the ``cost_split``
    quantile of cost to serve (default: the medians) among active relationships:
    *carriage trade* (high price, high cost) gets the richest model, *passive*
    (high price, low cost) and *aggressive* (low price, high cost) the middle one,
    *bargain basement* (low price, low cost) the leanest.  New customers start in
    the middle model.

    Parameters
    ----------
    price_split, cost_split : float
        Quantiles (0-1) that divide high from low net price and cost to serve.
    """

    ranges: ClassVar[dict[str, tuple[float, float]]] = {"price_split": (0.0, 1.0), "cost_split": (0.0, 1.0)}

    def __init__(self, price_split: float = 0.5, cost_split: float = 0.5) -> None:
        self.price_split = price_split
        self.cost_split = cost_split

    def decide(self, view: PortfolioView) -> np.ndarray:
        order = view.richest_to_leanest()
        rich, lean = order[0], order[-1]
        middle = order[len(order) // 2] if len(order) > 2 else lean
        high_price = _quantile_split(view.price, view.active, self.price_split)
        high_cost = _quantile_split(view.cost_to_serve, view.active, self.cost_split)
        out = np.where(high_price & high_cost, rich, np.where(high_price | high_cost, middle, lean))
        return np.where(view.active, out, middle).astype(np.int16)


class AdaptivePolicy(BasePolicy):
    """Reassigns from observed relationship performance at each review.

    A relationship whose observed economic profit is negative moves one model
    leaner; one in the top ``upgrade_share`` by observed profit with trust of at
    least ``min_trust`` moves one model richer.  Others stay.  New customers start
    in ``start`` (default: the middle model).  Before any profit has been
    observed (the first review) nothing moves.

    Parameters
    ----------
    upgrade_share : float
    min_trust : float
    start : int or str or None
    """

    ranges: ClassVar[dict[str, tuple[float, float]]] = {"upgrade_share": (0.0, 1.0), "min_trust": (0.0, 1.0)}

    def __init__(self, upgrade_share: float = 0.15, min_trust: float = 0.6, start: int | str | None = None):
        self.upgrade_share = upgrade_share
        self.min_trust = min_trust
        self.start = start

    def decide(self, view: PortfolioView) -> np.ndarray:
        order = np.array(view.richest_to_leanest())
        position = np.empty(view.n_business_models, dtype=np.int64)
        position[order] = np.arange(order.size)
        start = order[order.size // 2] if self.start is None else _by_name_or_index(view, self.start)
        if _nothing_observed(view):  # nothing to adapt to yet
            return np.where(view.active, view.business_model, start).astype(np.int16)
        pos = position[view.business_model]
        rank = _rank_share(view.observed_profit, view.active)
        down = view.observed_profit < 0
        up = (rank < self.upgrade_share) & (view.trust >= self.min_trust)
        pos = np.clip(pos + down.astype(np.int64) - (up & ~down).astype(np.int64), 0, order.size - 1)
        return np.where(view.active, order[pos], start).astype(np.int16)


class HarvestPolicy(BasePolicy):
    """Minimum service and no investment: everyone in the leanest model, capabilities cut to zero.

    Every relationship goes to the leanest business model that needs no account
    manager; customer insight, the modular platform and account managers are cut
    to zero from the first review.
    """

    def __init__(self) -> None:
        pass

    def decide(self, view: PortfolioView) -> Decision:
        lean = view.leanest_without_manager()
        return Decision(
            np.full(view.shape, lean, dtype=np.int16),
            {"insight_level": 0.0, "platform_level": 0.0, "account_managers": 0},
        )


class PortfolioPolicy(BasePolicy):
    """Treatment from a portfolio model's classes, listening to customers where it knows their view.

    Each relationship gets the business model whose treatment level (1 richest,
    0 leanest) is closest to the importance of its class under
    ``portfolio_model`` (see :mod:`valuecapture.model.portfolio_models`).  With
    ``listen``, where the firm learned the customer's view in an interaction
    space (``view.customer_view`` not NaN), the target moves halfway toward
    the treatment the customer expects.  Relationships beyond the account
    managers' capacity go one model leaner (lowest observed profit first).
    Until anything has been observed, assignments stay.  With ``reviews`` set,
    every active relationship is invited to that interaction space.  New
    customers start in the middle model.

    Parameters
    ----------
    portfolio_model : str
    listen : bool
    reviews : str or None
        Name of an interaction space to invite every active relationship to.
    """

    def __init__(self, portfolio_model: str = "krapfel", listen: bool = True, reviews: str | None = None):
        self.portfolio_model = portfolio_model
        self.listen = listen
        self.reviews = reviews

    def decide(self, view: PortfolioView) -> Decision:
        model = get_portfolio_model(self.portfolio_model)
        target = model.levels(view.classify(self.portfolio_model))
        if self.listen:
            known = np.isfinite(view.customer_view)
            target = np.where(known, 0.5 * (target + np.where(known, view.customer_view, 0.0)), target)
        levels = view.treatment_levels()
        best = np.argmin(np.abs(target[..., None] - levels), axis=-1)
        order = view.richest_to_leanest()
        if _nothing_observed(view):  # nothing observed yet: keep the current models
            best = view.business_model.astype(np.int64)
        # more relationships for managed models than account managers can hold: the
        # lowest observed profit go one model leaner (rather than to the engine's fallback)
        for pos, k in enumerate(order[:-1]):
            if not view.business_models[k]["needs_manager"]:
                continue
            for b in np.flatnonzero((view.active & (best == k)).sum(axis=1) > view.account_capacity):  # per replication
                idx = np.flatnonzero(view.active[b] & (best[b] == k))
                keep = idx[np.argsort(-view.observed_profit[b, idx], kind="stable")]
                best[b, keep[int(view.account_capacity[b]) :]] = order[pos + 1]
        out = np.where(view.active, best, order[len(order) // 2]).astype(np.int16)
        caps = {"interactions": {self.reviews: view.active.copy()}} if self.reviews else {}
        return Decision(out, caps)


class PartnersPolicy(TieredPolicy):
    """Partners first: relationships in the stage ``partner_stage`` get ``partner_model``, the rest are tiered.

    With ``stages.enabled``, every active relationship in the stage ``partner_stage`` (e.g.
    ``commitment``, or ``partner`` in Johnson & Selnes's stages) is served by
    ``partner_model`` (default: the richest business model) whatever its observed profit;
    the others are assigned as by ``tiered`` with its parameters.  Without stages nobody is a
    partner and it is ``tiered``.  A stage name the scenario does not declare stops the run
    with the declared names.

    Parameters
    ----------
    partner_stage : str
    partner_model : int or str or None
    top_share, middle_share, top_model, middle_model, lean_model
        As for ``tiered``.
    """

    ranges: ClassVar[dict[str, tuple[float, float]]] = TieredPolicy.ranges

    def __init__(
        self,
        partner_stage: str = "commitment",
        partner_model: int | str | None = None,
        top_share: float = 0.1,
        middle_share: float = 0.5,
        top_model: int | str | None = None,
        middle_model: int | str | None = None,
        lean_model: int | str | None = None,
    ):
        super().__init__(top_share, middle_share, top_model, middle_model, lean_model)
        self.partner_stage = partner_stage
        self.partner_model = partner_model

    def decide(self, view: PortfolioView) -> np.ndarray:
        out = super().decide(view)
        partners = view.in_stage(self.partner_stage)
        if not partners.any():
            return out
        if self.partner_model is None:
            model = view.richest_to_leanest()[0]
        else:
            model = _by_name_or_index(view, self.partner_model)
        return np.where(partners, model, out).astype(np.int16)


BUILTIN: dict[str, type] = {
    "single": SinglePolicy,
    "tiered": TieredPolicy,
    "matrix": MatrixPolicy,
    "adaptive": AdaptivePolicy,
    "harvest": HarvestPolicy,
    "portfolio": PortfolioPolicy,
    "partners": PartnersPolicy,
}
ENTRY_POINT_GROUP = "valuecapture.model.policies"


def registered_policies() -> dict[str, Any]:
    """Built-in policies (in their documented order) then those installed through the
    entry-point group, sorted by name (entry points are loaded only when used).
    A built-in name cannot be taken over by an installed package."""
    found: dict[str, Any] = dict(BUILTIN)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.setdefault(ep.name, ep)
    return found


def policy_class(name: str) -> type:
    if name in BUILTIN:  # built-ins win anyway; skip the entry-point scan (docs/performance.md)
        return BUILTIN[name]
    known = registered_policies()
    if name not in known:
        raise KeyError(f"unknown policy {name!r}; known: {', '.join(known)}")
    cls = known[name]
    return cls if isinstance(cls, type) else cls.load()


@dataclass(frozen=True)
class PolicySpec:
    """A policy with its parameters, as the command line writes it: ``tiered(top_share=0.2)``."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The canonical text (parameters in the order given, text values quoted only when needed)."""
        if not self.params:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={value_text(v)}" for k, v in self.params.items()) + ")"


def value_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return (
            v
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", v) and v not in ("true", "false")
            else json.dumps(v, ensure_ascii=False)
        )
    return repr(v)


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside parentheses and double quotes."""
    out, depth, quoted, start, escaped = [], 0, False, 0, False
    for i, ch in enumerate(text):
        if escaped:  # the character after a backslash inside quotes
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == sep:
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return out


def parse_policy_specs(text: str) -> list[PolicySpec]:
    """``"tiered(top_share=0.2), single"`` as policy specs.  Parsed as data, never evaluated: a
    value is a TOML number, ``true``/``false``, a double-quoted text, or a bare word (text).
    Raises ValueError naming the part that does not parse."""
    specs = []
    for part in (x.strip() for x in _split_top(text, ",")):
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:\((.*)\))?", part, flags=re.S)
        if m is None:
            raise ValueError(f"{part!r} must look like NAME or NAME(parameter=value, ...)")
        params: dict[str, Any] = {}
        for item in (x.strip() for x in _split_top(m.group(2) or "", ",")):
            if not item:
                continue
            key, eq, raw = (x.strip() for x in item.partition("="))
            if not eq or not key.isidentifier() or not raw:
                raise ValueError(f"{item!r} in {part!r} must look like parameter=value")
            params[key] = _parse_value(raw, part)
        specs.append(PolicySpec(m.group(1), params))
    return specs


def _parse_value(raw: str, part: str) -> Any:
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", raw):
            return raw  # a bare word: text
        raise ValueError(f'{raw!r} in {part!r} is not a number, true/false, a "text" or a bare word') from None
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(f"{raw!r} in {part!r} must be a number, true/false or text")
    return value


def get_policy(name: str, **params: Any) -> Any:
    """Instantiate the policy registered as ``name``."""
    return policy_class(name)(**params)


_TYPES: dict[str, tuple[type, ...]] = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,)}


def parameters_of(cls: type) -> dict[str, inspect.Parameter]:
    """A policy class's parameters: the keyword arguments of its ``__init__``."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    init = vars(cls).get("__init__") or next(vars(c)["__init__"] for c in cls.__mro__ if "__init__" in vars(c))
    return {n: q for n, q in inspect.signature(init).parameters.items() if n != "self" and q.kind in kinds}


def _allowed_types(q: inspect.Parameter) -> tuple[tuple[type, ...], str] | None:
    """The value types a parameter takes, from its annotation (``int | str``) or else its default;
    None when neither says (any number, truth value or text then)."""
    ann = q.annotation
    text = ann if isinstance(ann, str) else getattr(ann, "__name__", "") if ann is not inspect.Parameter.empty else ""
    names = [t.strip() for t in text.split("|") if t.strip() in (*_TYPES, "None")]
    if not names and q.default is not inspect.Parameter.empty and q.default is not None:
        names = [type(q.default).__name__]
    names = [n for n in names if n in _TYPES]
    if not names:
        return None
    return tuple(t for n in names for t in _TYPES[n]), " or ".join(names)


def check_parameters(name: str, params: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(parameter, problem)`` when ``params`` do not fit the policy ``name``'s signature (an
    unknown parameter, a value of the wrong type, or one its constructor refuses), else None."""
    cls = policy_class(name)
    allowed = parameters_of(cls)
    for key, value in params.items():
        if key not in allowed:
            return key, f"{name!r} has no parameter {key!r}; its parameters: {', '.join(allowed) or 'none'}"
        types = _allowed_types(allowed[key])
        ok = types is None or (isinstance(value, types[0]) and not (isinstance(value, bool) and bool not in types[0]))
        if not ok:
            assert types is not None
            return key, f"must be {types[1]} for {name!r}, got {type(value).__name__} {value!r}"
        lo_hi = getattr(cls, "ranges", {}).get(key)
        if lo_hi is not None and not isinstance(value, bool) and not lo_hi[0] <= value <= lo_hi[1]:
            return key, f"must be in [{lo_hi[0]:g}, {lo_hi[1]:g}] for {name!r}, got {value!r}"
    try:
        cls(**params)
    except (TypeError, ValueError) as exc:
        return "", f"{name!r} refuses these parameters: {exc}"
    return None


def describe(cls: Any) -> str:
    """First line of a policy class's docstring."""
    doc = (getattr(cls, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def normalize_decision(decision: Any, shape: tuple[int, int], n_models: int) -> Decision:
    """Check a policy's return value; raise ValueError saying what is wrong."""
    if not isinstance(decision, Decision):
        decision = Decision(np.asarray(decision))
    a = np.asarray(decision.assignment)
    if a.shape != shape or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"policy returned a {a.dtype} array of shape {a.shape}; expected integers of shape {shape}")
    if a.size and (a.min() < 0 or a.max() >= n_models):
        raise ValueError(f"policy returned business-model indices outside 0..{n_models - 1}")
    unknown = set(decision.capabilities) - set(CAPABILITY_KEYS)
    if unknown:
        raise ValueError(f"policy set unknown capabilities {sorted(unknown)}; allowed: {', '.join(CAPABILITY_KEYS)}")
    return Decision(a.astype(np.int16), dict(decision.capabilities))
