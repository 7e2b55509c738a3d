"""Customer portfolio models: classifiers over what the firm (or the customer) observes.

A portfolio model sorts relationships into classes.  Each built-in follows its
source (MODEL.md §4; Clarke, Freytag & Zolkiewski 2017 review them); where the
source gives dimensions but no cut-offs, relationships are split at the
**median of the active relationships of the replication** ("high" = above the
median), which keeps every class populated in any scenario and is documented
per class below.  Each class also has an ``importance`` level in [0, 1]: how
much the class calls for close, resource-intensive treatment.  Alignment
compares such levels (see docs/alignment.md).

Supplier-side models classify from the firm's view (:class:`~valuecapture.model.policies.PortfolioView`
or any object with the same attributes): ``shapiro``, ``krapfel``, ``turnbull``,
``fiocca``, ``campbell``.  The customer-side ``kraljic`` model classifies the
*supplier* from the customer's perspective and takes ``purchase_importance``
and ``supply_risk`` (both in [0, 1], absolute cut-off 0.5).

Third-party classifiers register in the entry-point group
``valuecapture.model.portfolio_models`` (a class with ``name``, ``classes``,
``importance``, ``source`` and ``classify(view) -> int array``).
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points
from typing import Any

import numpy as np

ENTRY_POINT_GROUP = "valuecapture.model.portfolio_models"


def above_median(x: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Per replication (row), True where ``x`` exceeds the median of the active slots."""
    masked = np.where(active, x, np.nan)
    with np.errstate(all="ignore"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # rows with no active slot
            med = np.nanmedian(masked, axis=1, keepdims=True)
    return np.where(np.isnan(med), False, x > med)


class PortfolioModel:
    """Base class: ``classes`` (names), ``importance`` (one level per class), ``source``."""

    name: str = ""
    classes: tuple[str, ...] = ()
    importance: tuple[float, ...] = ()
    source: str = ""
    side: str = "supplier"

    def classify(self, view: Any) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def levels(self, classes: np.ndarray) -> np.ndarray:
        """Importance level of each class index."""
        return np.asarray(self.importance, dtype=float)[classes]


class Shapiro(PortfolioModel):
    """Net price x cost to serve (Shapiro, Rangan, Moriarty & Ross 1987, HBR 65(5)).

    Carriage trade: high price, high cost to serve.  Passive: high price, low
    cost.  Aggressive: low price, high cost.  Bargain basement: low price, low
    cost.  High = above the median of active relationships.
    """

    name = "shapiro"
    classes = ("carriage_trade", "passive", "aggressive", "bargain_basement")
    importance = (1.0, 0.67, 0.33, 0.0)
    source = (
        "Shapiro, Rangan, Moriarty & Ross (1987), Manage customers for profits (not just sales), "
        "Harvard Business Review 65(5)."
    )

    def classify(self, view: Any) -> np.ndarray:
        hp = above_median(view.price, view.active)
        hc = above_median(view.cost_to_serve, view.active)
        return np.where(hp, np.where(hc, 0, 1), np.where(hc, 2, 3)).astype(np.int8)


class Krapfel(PortfolioModel):
    """Relationship value x interest commonality (Krapfel, Salmond & Spekman 1991, EJM 25(9)).

    Partner: high value, high commonality.  Friend: low value, high
    commonality.  Rival: high value, low commonality.  Acquaintance: low, low.
    Relationship value is the observed economic profit; interest commonality is
    proxied by trust (above 0.5 = common interests).
    """

    name = "krapfel"
    classes = ("partner", "friend", "rival", "acquaintance")
    importance = (1.0, 0.33, 0.67, 0.0)
    source = (
        "Krapfel, Salmond & Spekman (1991), A strategic approach to managing buyer-seller relationships, "
        "European Journal of Marketing 25(9)."
    )

    def classify(self, view: Any) -> np.ndarray:
        hv = above_median(view.observed_profit, view.active)
        common = view.trust > 0.5
        return np.where(common, np.where(hv, 0, 1), np.where(hv, 2, 3)).astype(np.int8)


class Turnbull(PortfolioModel):
    """Three dimensions: cost to serve x net price x relationship value (Turnbull & Zolkiewski 1997, JBIM 12(5)).

    Eight cells named ``<price>_price_<cost>_cost_<value>_value`` with high/low
    split at the medians.  Importance: the share of favourable dimensions (high
    price, low cost, high value).
    """

    name = "turnbull"
    classes = tuple(
        f"{p}_price_{c}_cost_{v}_value" for p in ("high", "low") for c in ("high", "low") for v in ("high", "low")
    )
    importance = tuple(
        ((p == "high") + (c == "low") + (v == "high")) / 3.0
        for p in ("high", "low")
        for c in ("high", "low")
        for v in ("high", "low")
    )
    source = (
        "Turnbull & Zolkiewski (1997), Profitability in customer portfolio planning, "
        "in Understanding Business Markets (2nd ed.), Dryden; Zolkiewski & Turnbull (2002), JBIM 17(7)."
    )

    def classify(self, view: Any) -> np.ndarray:
        lp = ~above_median(view.price, view.active)
        lc = ~above_median(view.cost_to_serve, view.active)
        lv = ~above_median(view.observed_profit, view.active)
        return (4 * lp + 2 * lc + lv).astype(np.int8)


class Fiocca(PortfolioModel):
    """Two-step portfolio (Fiocca 1982, IMM 11(1)).

    Step 1: strategic importance (revenue above the median) x difficulty in
    managing the account (cost to serve above the median); the important ones
    are *key* accounts.  Step 2, for key accounts only: strength of the
    relationship (trust above 0.6) x attractiveness of the customer's business
    (wallet growth above 0).  Non-key accounts are only split by difficulty.
    """

    name = "fiocca"
    classes = (
        "key_strong_attractive",
        "key_strong_unattractive",
        "key_weak_attractive",
        "key_weak_unattractive",
        "nonkey_difficult",
        "nonkey_easy",
    )
    importance = (1.0, 0.6, 0.8, 0.4, 0.1, 0.0)
    source = (
        "Fiocca (1982), Account portfolio analysis for strategy development, Industrial Marketing Management 11(1)."
    )

    def classify(self, view: Any) -> np.ndarray:
        key = above_median(view.revenue, view.active)
        difficult = above_median(view.cost_to_serve, view.active)
        strong = view.trust > 0.6
        attractive = view.growth > 0.0
        step2 = np.where(strong, np.where(attractive, 0, 1), np.where(attractive, 2, 3))
        return np.where(key, step2, np.where(difficult, 4, 5)).astype(np.int8)


class Campbell(PortfolioModel):
    """Life-cycle portfolio (Campbell & Cunningham 1983, SMJ 4(4)).

    Tomorrow's customers: relationships younger than 2 years.  Today's: older,
    revenue above the median.  Yesterday's: older, revenue at or below the median.
    """

    name = "campbell"
    classes = ("tomorrows", "todays", "yesterdays")
    importance = (0.67, 1.0, 0.0)
    source = (
        "Campbell & Cunningham (1983), Customer analysis for strategy development in industrial markets, "
        "Strategic Management Journal 4(4)."
    )
    young_years = 2.0

    def classify(self, view: Any) -> np.ndarray:
        young = view.age < self.young_years * view.periods_per_year
        big = above_median(view.revenue, view.active)
        return np.where(young, 0, np.where(big, 1, 2)).astype(np.int8)


class Kraljic(PortfolioModel):
    """The customer's classification of its supplier (Kraljic 1983, HBR 61(5)).

    Importance of the purchase (profit impact) x supply risk (how hard the
    supplier is to replace), both in [0, 1] with cut-off 0.5.  Strategic: high,
    high.  Leverage: high importance, low risk.  Bottleneck: low importance,
    high risk.  Routine (non-critical): low, low.  Importance levels (how much
    close treatment the customer expects) are set by ``alignment.kraljic_levels``.
    """

    name = "kraljic"
    side = "customer"
    classes = ("strategic", "leverage", "bottleneck", "routine")
    importance = (1.0, 0.33, 0.67, 0.0)
    source = "Kraljic (1983), Purchasing must become supply management, Harvard Business Review 61(5)."

    def classify(self, view: Any) -> np.ndarray:
        hi = view.purchase_importance > 0.5
        risky = view.supply_risk > 0.5
        return np.where(hi, np.where(risky, 0, 1), np.where(risky, 2, 3)).astype(np.int8)


BUILTIN: dict[str, type[PortfolioModel]] = {c.name: c for c in (Shapiro, Krapfel, Turnbull, Fiocca, Campbell, Kraljic)}


def registered_portfolio_models() -> dict[str, Any]:
    """Built-in portfolio models, then installed ones (entry points, loaded when used)."""
    found: dict[str, Any] = dict(BUILTIN)
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.setdefault(ep.name, ep)
    return found


def get_portfolio_model(name: str) -> PortfolioModel:
    known = registered_portfolio_models()
    if name not in known:
        raise KeyError(f"unknown portfolio model {name!r}; known: {', '.join(known)}")
    cls = known[name]
    cls = cls if isinstance(cls, type) else cls.load()
    return cls()


def class_labels(names: tuple[str, ...]) -> list[str]:
    """``model:class`` labels of every class of the named models, in order."""
    return [f"{n}:{c}" for n in names for c in get_portfolio_model(n).classes]
