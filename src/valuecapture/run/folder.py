"""A command's run into its result folder: locked, streamed to a store, resumable, written atomically.

:func:`run_in_folder` is what every command that writes a result does (``run``,
``compare``, ``decompose``, ``sweep``, ``run --precision``, ``reproduce``): hold the lock
``OUT/.<name>.lock``; check the store ``OUT/.<name>.inprogress/`` (``--resume`` needs one,
a plain run refuses one, ``--fresh`` discards it) and the target ``OUT/<name>/`` (replaced
only with ``--overwrite``); let the caller compute the Dataset streaming its batches into
the store; write the result folder atomically; remove the store.  SIGINT and SIGTERM stop
the run at the next batch boundary with one line saying what is saved and how to resume;
a full disk is one line saying what was kept (docs/safety.md).
"""

from __future__ import annotations

import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xarray as xr

from valuecapture.run.outputs import OutputError, WriteFailure, check_out_folder, check_target, claimed
from valuecapture.run.results import RESULT_FILE
from valuecapture.run.store import RunStore, StoreError, store_dir
from valuecapture.scenario.schema import NAME_PATTERN

#: ``compute(store, resume, stop) -> Dataset``: the run, streaming its batches into ``store``.
Compute = Callable[[Path, bool, Callable[[], bool]], xr.Dataset]


class Interrupted(KeyboardInterrupt):
    """The run was interrupted; ``str(self)`` says what is saved and how to resume."""


def run_in_folder(
    out: str | Path,
    name: str,
    compute: Compute,
    write: Callable[[xr.Dataset, Path], Any],
    *,
    resume: bool = False,
    fresh: bool = False,
    overwrite: bool = False,
    raise_now: bool = True,
    resume_hint: str = "the same command with --resume",
    marker: str = "run.json",
    saved: Callable[[Path], str | None] | None = None,
) -> tuple[xr.Dataset, Path]:
    """Run ``compute`` into the store of ``out/name`` and ``write`` its Dataset to ``out/name/``.

    ``raise_now``: SIGINT/SIGTERM raise at once in the main thread (serial runs); without
    it they only set the flag ``compute`` polls (a process pool's main thread only waits).
    Returns the Dataset and the folder.  Raises :class:`StoreError` (bad input: no store to
    resume, an interrupted one in the way), :class:`~valuecapture.run.outputs.OutputError`
    (the target cannot be replaced), :class:`Interrupted`, and
    :class:`~valuecapture.run.outputs.WriteFailure` (a full or read-only disk, with what
    was kept and ``resume_hint``).  ``marker``: the file whose presence in the store makes it one
    to resume; ``saved(store)``: what it keeps, as text (None: nothing worth keeping), for
    stores that are more than one run's batches (``optimize``: trials and the round in flight)."""
    folder = check_out_folder(out)
    kept_text = saved or _saved_text
    target = folder / name
    path = store_dir(folder, name)
    if resume and fresh:
        raise StoreError("--resume and --fresh exclude each other")
    with claimed(folder, name, "results"):  # before looking at the store: a live run's store is not an interrupted one
        if resume and not (path / marker).exists():
            raise StoreError(f"--resume: no interrupted run of {name!r} in {folder} (looked for {path})")
        if not resume and path.exists() and not fresh:
            raise StoreError(
                f"an interrupted run of {name!r} is in {path}: continue it with --resume, or start over with --fresh"
            )
        check_target(target, overwrite)
        if path.exists() and not resume:
            shutil.rmtree(path)
        guard = _sigterm_as_interrupt(raise_now=raise_now)
        try:
            with guard:
                ds = compute(path, resume, lambda: guard.interrupted)
        except BaseException as exc:
            kept = kept_text(path)
            if not resume and kept is None:  # nothing of value: leave no store that blocks the next run
                shutil.rmtree(path, ignore_errors=True)
            if isinstance(exc, WriteFailure):
                raise WriteFailure(f"{exc}; free space or fix permissions, then continue with: {resume_hint}") from None
            # Ctrl-C reaches the whole process group: a worker still starting up may die of it and
            # break the pool before the parent's own KeyboardInterrupt arrives; either way it is an interrupt
            if not (isinstance(exc, KeyboardInterrupt) or guard.interrupted):
                raise
            if not path.exists():
                raise Interrupted("interrupted before any batch finished; nothing was written") from None
            raise Interrupted(
                f"interrupted: {kept or '0 replications (0 batches)'} are saved in {path}/; continue with: "
                f"{resume_hint}"
            ) from None
        try:
            write(ds, target)
        except WriteFailure:
            raise
        except OSError as exc:
            what = f"{_saved(path)[0]} replications" if saved is None else kept_text(path)
            raise WriteFailure(
                f"cannot write the result to {target}: {exc.strerror or exc}; all {what} are kept in {path}/; free "
                f"space or fix permissions, then finish with: {resume_hint}"
            ) from None
        shutil.rmtree(path, ignore_errors=True)
    return ds, target


def reproduce_target(result: str | Path, out: str | Path | None, fallback: str) -> tuple[Path, str]:
    """Where ``valuecapture reproduce RESULT`` writes its re-run: ``(folder, name)`` for :func:`run_in_folder`.

    ``folder`` is ``out``, by default the folder that holds the original result; ``name`` is
    the original's (its folder's name, or a loose file's stem; ``fallback`` when that is not a
    valid result name), with ``-reproduced`` appended when ``folder`` is the one holding the
    original, so the re-run never lands on the original.  An ``out`` that is the original
    result folder or inside it is refused (:class:`~valuecapture.run.outputs.OutputError`)."""
    p = Path(result)
    original: Path | None
    if p.is_dir():
        original, name, holder = p, p.name, p.parent
    elif p.name == RESULT_FILE:
        original, name, holder = p.parent, p.parent.name, p.parent.parent
    else:  # a loose result file: the re-run goes into a folder, never onto the file
        original, name, holder = None, p.stem, p.parent
    if not NAME_PATTERN.fullmatch(name):
        name = fallback
    folder = check_out_folder(holder if out is None else out)
    where = folder.resolve()
    if original is not None and (where == original.resolve() or original.resolve() in where.parents):
        raise OutputError(
            f"--out {out}: is inside the original result {original}; reproduce writes beside it (the default) or "
            "into another folder"
        )
    if where == holder.resolve():
        name = f"{name}-reproduced"
    return folder, name


def _saved_text(path: Path) -> str | None:
    """What a run's store keeps, as text; None when it holds no batch."""
    saved, batches = _saved(path)
    return f"{saved} replications ({batches} batches)" if batches else None


def _saved(path: Path) -> tuple[int, int]:
    """Replications finished in every variant, and batch files, in the store at ``path``."""
    try:
        store = RunStore.load(path)
    except StoreError:
        return 0, 0
    return store.replications_done(), len(store.finished())


class _sigterm_as_interrupt:
    """Within the block, SIGINT and SIGTERM set ``interrupted`` and (``raise_now``) raise
    KeyboardInterrupt in the main thread; without ``raise_now`` the caller polls the flag.

    A KeyboardInterrupt raised while a callback runs (a weakref callback, a ``__del__``)
    is swallowed by Python, which prints it as "Exception ignored"; the flag records it,
    the caller raises it at its next check, and the block keeps Python from printing it.
    """

    def __init__(self, raise_now: bool = True) -> None:
        self.interrupted = False
        self.raise_now = raise_now
        self.old: dict[int, Any] = {}
        self.old_hook: Any = None

    def _unraisable(self, info: Any) -> None:
        if not (self.interrupted and isinstance(info.exc_value, KeyboardInterrupt)):
            self.old_hook(info)

    def __enter__(self) -> _sigterm_as_interrupt:
        if threading.current_thread() is threading.main_thread():
            self.old_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable

            def handler(signum: int, frame: Any) -> None:
                self.interrupted = True
                if self.raise_now:
                    raise KeyboardInterrupt

            for sig in (signal.SIGTERM, signal.SIGINT):
                self.old[sig] = signal.signal(sig, handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)
        if self.old_hook is not None:
            sys.unraisablehook = self.old_hook
