"""A result folder with the standard summary and figures: :func:`write_run`, and :func:`run_to_folder`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from valuecapture.analysis.summary import summary_text
from valuecapture.report.plots import run_figures
from valuecapture.run.folder import run_in_folder
from valuecapture.run.results import write_result
from valuecapture.run.simulate import executor_for, simulate
from valuecapture.scenario.load import Scenario


def write_run(
    ds: xr.Dataset,
    out_dir: str | Path,
    extra: dict[str, str] | None = None,
    figures: bool = True,
    summary: str | None = None,
    figure_maker: Callable[[xr.Dataset, Path], Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``ds`` with its summary (default :func:`~valuecapture.analysis.summary.summary_text`)
    and, with ``figures``, its figures (default: the run figures; ``figure_maker(ds, folder)``
    otherwise) atomically to ``out_dir`` (see :func:`~valuecapture.run.results.write_result`:
    a previous result is replaced only with ``overwrite``)."""
    draw = (figure_maker or run_figures) if figures else None
    return write_result(ds, out_dir, summary_text(ds) if summary is None else summary, draw, extra, overwrite)


def run_to_folder(
    scenario: Scenario,
    out: str | Path,
    replications: int | None = None,
    seed: int | None = None,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    executor: str | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    fresh: bool = False,
    overwrite: bool = False,
    figures: bool = True,
    progress: bool = False,
    resume_hint: str = "the same run with resume=True",
) -> tuple[xr.Dataset, Path]:
    """What ``valuecapture run`` does, as a function: simulate ``scenario`` streaming its batches to
    the store ``out/.<name>.inprogress/`` (``resume``: continue an interrupted run there;
    ``fresh``: discard it), then write ``out/<name>/`` with its summary and figures
    (:func:`~valuecapture.run.folder.run_in_folder`: locked, atomic).  Returns the Dataset and the folder."""

    def compute(store: Path, again: bool, stop: Callable[[], bool]) -> xr.Dataset:
        return simulate(
            scenario,
            replications,
            seed,
            workers=workers,
            batch_size=batch_size,
            executor=executor,
            scheduler=scheduler,
            progress=progress,
            store=store,
            resume=again,
            stop=stop,
        )

    def write(ds: xr.Dataset, target: Path) -> Path:
        return write_run(ds, target, figures=figures, overwrite=overwrite)

    return run_in_folder(
        out,
        scenario.name,
        compute,
        write,
        resume=resume,
        fresh=fresh,
        overwrite=overwrite,
        raise_now=executor_for(executor, workers, scheduler) == "serial",
        resume_hint=resume_hint,
    )
