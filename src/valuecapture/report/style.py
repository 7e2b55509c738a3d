"""The figures' common style: pyplot on a file-only backend, the palette, legends that stay off
the data, titles that fit, plain log ticks (used by every module of the report layer)."""

from __future__ import annotations

import sys
import textwrap

#: Colours of series (policies, segments, stages), in order.
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD")


def _plt():  # type: ignore[no-untyped-def]
    """pyplot, on the file-only Agg backend unless running inside Jupyter (where figures
    returned by the functions below then display inline)."""
    import matplotlib  # lazy: loaded with the first figure, which picks the backend before pyplot loads

    if "ipykernel" not in sys.modules:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # lazy: only after the backend is chosen above

    return plt


def legend_beside(ax, **kw) -> None:  # type: ignore[no-untyped-def]
    """The legend of ``ax`` outside it, on its right (never on the data); ``kw``: legend keywords."""
    ax.legend(**{"frameon": False, "fontsize": 8, "loc": "upper left", "bbox_to_anchor": (1.01, 1.0), **kw})


def legend_below(fig, handles, labels, ncols: int | None = None, **kw) -> None:  # type: ignore[no-untyped-def]
    """One legend for the whole figure, under its panels (constrained layout makes room for it)."""
    n = ncols or min(len(labels), 4)
    fig.legend(handles, labels, **{"loc": "outside lower center", "ncols": n, "frameon": False, "fontsize": 8, **kw})


def plain_log_ticks(ax, axis: str = "both") -> None:  # type: ignore[no-untyped-def]
    """Ticks at 1, 2, 5 x 10^k labelled as plain numbers on a log axis (no crowded 2x10^0 3x10^0 labels)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # lazy: see _plt

    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:.2g}")
    for a in [ax.xaxis, ax.yaxis] if axis == "both" else [ax.xaxis if axis == "x" else ax.yaxis]:
        a.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        a.set_major_formatter(fmt)
        a.set_minor_formatter(NullFormatter())


def wrapped(text: str, width_in: float, fontsize: float = 10) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize`` points (each line of
    ``text`` on its own; words are never split)."""
    chars = max(20, int(width_in * 72 / (0.58 * fontsize)))
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def suptitle(fig, text: str, fontsize: float = 10) -> None:  # type: ignore[no-untyped-def]
    """The figure's title, wrapped to its width."""
    fig.suptitle(wrapped(text, fig.get_figwidth() - 0.3, fontsize), fontsize=fontsize)
