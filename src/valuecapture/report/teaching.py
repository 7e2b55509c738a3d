"""Interactive controls for the teaching notebooks, with a static fallback.

:func:`explore` binds a function to sliders and dropdowns -- one per lever the lesson is
about -- and shows them below the cell where a notebook front end can show them: ipywidgets
is installed (the ``notebooks`` extra) and the code runs in an IPython kernel.  Anywhere
else -- a plain Python session, a terminal IPython, a notebook executed without a front end
(``tests/test_notebooks.py``, ``docs/notebooks/build.py``) or with the environment variable
``VALUECAPTURE_WIDGETS=0`` -- it prints one line naming the controls and their ranges and
calls the function once at the default values, so the cell still shows its figure and
numbers.  Each move of a control reruns the function (a slider on release), so a lesson
gives it small runs.

Example::

    from valuecapture.report.teaching import Choice, Slider, explore

    def firm(fixed_cost, replications):
        ds = vc.simulate(sc.with_values({"choices.fixed_cost": fixed_cost}), replications, seed=11)
        print(vc.summary_text(ds))

    explore(firm, fixed_cost=Slider(1_200_000, 600_000, 2_400_000, 100_000, "fixed cost"),
            replications=Choice(200, [50, 200, 800]))
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Set to 0 (or off, no, false) to make :func:`explore` take the static path even in Jupyter.
WIDGETS_ENV = "VALUECAPTURE_WIDGETS"
_OFF = {"0", "off", "no", "false"}


@dataclass(frozen=True)
class Slider:
    """A numeric control: the default ``value``, the range ``low``-``high`` and the ``step``.

    Whole numbers throughout (all four ``int``) make an integer slider.  ``label`` is shown
    beside it (default: the function's argument name)."""

    value: float
    low: float
    high: float
    step: float
    label: str = ""

    def __post_init__(self) -> None:
        numbers = (self.value, self.low, self.high, self.step)
        if not all(isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x) for x in numbers):
            raise ValueError(f"Slider: value, low, high and step must be finite numbers, got {numbers}")
        if not (self.low <= self.value <= self.high and self.step > 0):
            raise ValueError(
                f"Slider: needs low <= value <= high and step > 0, got value {self.value}, range "
                f"{self.low} to {self.high}, step {self.step}"
            )

    @property
    def integer(self) -> bool:
        """Whether the slider takes whole numbers only."""
        return all(isinstance(x, int) for x in (self.value, self.low, self.high, self.step))

    def text(self, name: str) -> str:
        """How the static fallback names this control."""
        return f"{self.label or name} = {_number(self.value)} (slider {_number(self.low)} to {_number(self.high)})"


@dataclass(frozen=True)
class Choice:
    """A dropdown: the default ``value`` and the ``options`` -- a sequence of values, or a
    mapping of the labels shown to the values passed.  ``label`` is shown beside it."""

    value: Any
    options: Sequence[Any] | Mapping[str, Any]
    label: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.options, str) or not len(self.options):
            raise ValueError(f"Choice: options must be a non-empty list or mapping, got {self.options!r}")
        if self.value not in self.values():
            raise ValueError(f"Choice: the default {self.value!r} is not among the options {self.values()}")

    def values(self) -> list[Any]:
        """The values the function can be called with."""
        return list(self.options.values()) if isinstance(self.options, Mapping) else list(self.options)

    def text(self, name: str) -> str:
        """How the static fallback names this control."""
        if isinstance(self.options, Mapping):
            shown = next(k for k, v in self.options.items() if v == self.value)
            labels = list(self.options)
        else:
            shown, labels = self.value, list(self.options)
        return f"{self.label or name} = {shown} (one of {', '.join(str(o) for o in labels)})"


Control = Slider | Choice


def _number(x: float) -> str:
    """1,200,000 or 0.25: thousands separated, no exponent, no trailing zeros."""
    return f"{x:,.10g}"


def widgets_available() -> bool:
    """Whether :func:`explore` would show widgets here: ipywidgets is importable, the code
    runs in an IPython kernel (Jupyter, VS Code, Colab...), and ``VALUECAPTURE_WIDGETS`` is
    not 0/off/no/false."""
    if os.environ.get(WIDGETS_ENV, "").strip().lower() in _OFF:
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()  # type: ignore[no-untyped-call]
    return shell is not None and getattr(shell, "kernel", None) is not None


def controls_widget(function: Callable[..., Any], controls: Mapping[str, Control]) -> Any:
    """An ``ipywidgets.interactive`` box: one widget per control, and the output of
    ``function`` (called at once with the defaults, then again after each change)."""
    import ipywidgets as w

    made: dict[str, Any] = {}
    style = {"description_width": "initial"}
    layout = w.Layout(width="480px")
    for name, c in controls.items():
        label = c.label or name
        if isinstance(c, Slider):
            kind = w.IntSlider if c.integer else w.FloatSlider
            made[name] = kind(
                value=c.value,
                min=c.low,
                max=c.high,
                step=c.step,
                description=label,
                continuous_update=False,  # each change runs a simulation: on release, not while dragging
                style=style,
                layout=layout,
            )
        else:
            options = list(c.options.items()) if isinstance(c.options, Mapping) else list(c.options)
            made[name] = w.Dropdown(options=options, value=c.value, description=label, style=style, layout=layout)
    return w.interactive(function, **made)


def explore(function: Callable[..., Any], /, *, interactive: bool | None = None, **controls: Control) -> Any:
    """Show ``function`` with a control per keyword, or call it once at the defaults.

    Parameters
    ----------
    function
        Called with one keyword argument per control; what it prints or displays is the
        cell's output.
    interactive
        True or False forces the widgets or the static path; None (default) shows widgets
        where :func:`widgets_available`.
    **controls
        :class:`Slider` or :class:`Choice` per argument of ``function``.

    Returns
    -------
    The ``ipywidgets.interactive`` box (already displayed) when interactive, else what
    ``function`` returned.
    """
    for name, c in controls.items():
        if not isinstance(c, Slider | Choice):
            raise TypeError(f"explore: control {name!r} must be a Slider or a Choice, got {type(c).__name__}")
    if widgets_available() if interactive is None else interactive:
        from IPython.display import display

        box = controls_widget(function, controls)
        display(box)  # type: ignore[no-untyped-call]
        return box
    print(
        "Levers (at their defaults here; in Jupyter with ipywidgets they are controls): "
        + "; ".join(c.text(name) for name, c in controls.items())
    )
    return function(**{name: c.value for name, c in controls.items()})
