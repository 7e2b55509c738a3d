"""Writing into the folder the user chose, and nowhere else: confinement, locks, manifests.

Every command that writes does so through this module (docs/safety.md):

* :func:`check_target` refuses, before any work, a target that would leave the chosen
  folder, that is a file or a link, that holds anything valuecapture did not write, or
  that holds a previous result when ``overwrite`` was not asked for;
* :class:`RunLock` is an OS-level lock (``fcntl.flock``) on ``OUT/.<name>.lock``, held by
  one process for the whole run; the kernel releases it when the process dies, however it
  dies, so a lock file left behind is never mistaken for a live run;
* :func:`atomic_dir` builds the result in a hidden folder beside the target and swaps it
  into place only when complete, with a ``manifest.json`` listing every file and its
  SHA-256 (which is how a later ``--overwrite`` knows the folder is a result, and how
  ``show`` knows a file was damaged);
* :func:`write_file` writes bytes with plain file I/O, so a full or read-only disk is an
  ``OSError``: HDF5 files are built in memory first, because HDF5 crashes (segmentation
  fault) when it closes a file whose writes failed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from valuecapture.scenario.files import InputFileError, read_input
from valuecapture.version import __version__

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1


class OutputError(ValueError):
    """The output cannot be written as asked (bad input: exit code 2)."""


class LockedError(OutputError):
    """Another live process holds the lock of this run."""


class WriteFailure(OSError):
    """Writing failed (full or read-only disk): exit code 1; ``str(self)`` says what was kept."""


def umask() -> int:
    """The process's file-mode creation mask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _chmod_default(path: Path, directory: bool) -> None:
    """Give ``path`` the mode a plain ``mkdir``/``open`` would (``mkdtemp``/``mkstemp`` use 0700/0600)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def write_file(path: Path, data: bytes | memoryview | str) -> None:
    """Write ``data`` to ``path`` with plain file I/O and flush it to disk."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open(path, "wb") as f:
        f.write(raw)
        f.flush()
        os.fsync(f.fileno())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------
# Manifests: what valuecapture wrote into a folder
# ---------------------------------------------------------------------------


def write_manifest(folder: Path, what: str) -> None:
    """List every file under ``folder`` (not in sub-folders that have their own manifest)
    with its size and SHA-256 in ``folder/manifest.json``."""
    files = {}
    for f in sorted(_own_files(folder)):
        rel = f.relative_to(folder).as_posix()
        files[rel] = {"bytes": f.stat().st_size, "sha256": sha256_file(f)}
    meta = {"format": MANIFEST_FORMAT, "written_by": f"valuecapture {__version__}", "what": what, "files": files}
    write_file(folder / MANIFEST, json.dumps(meta, indent=1) + "\n")


def _own_files(folder: Path) -> Iterator[Path]:
    """Files under ``folder``, not descending into sub-folders that hold a manifest."""
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() or not entry.is_dir():
            if entry.name != MANIFEST:
                yield entry
        elif not (entry / MANIFEST).exists():
            yield from _own_files(entry)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None when it has none or it is not ours."""
    f = folder / MANIFEST
    try:
        meta = json.loads(read_input(f, 64 * 2**20).decode("utf-8"))
    except (OSError, ValueError, InputFileError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != MANIFEST_FORMAT or not isinstance(meta.get("files"), dict):
        return None
    return meta


def foreign_entries(folder: Path) -> list[str]:
    """Entries under ``folder`` that valuecapture did not write: not listed in its manifest
    (or in the manifest of the sub-folder they are in), links, and empty folders."""
    meta = read_manifest(folder)
    if meta is None:
        return ["(no valuecapture manifest.json)"]
    listed = set(meta["files"])
    out: list[str] = []

    def walk(d: Path) -> None:
        for entry in sorted(d.iterdir()):
            rel = entry.relative_to(folder).as_posix()
            if entry.is_symlink():
                out.append(rel)
            elif entry.is_dir():
                if (entry / MANIFEST).exists():
                    out.extend(f"{rel}/{e}" for e in foreign_entries(entry))
                elif not any(name.startswith(rel + "/") for name in listed):
                    out.append(rel + "/")
                else:
                    walk(entry)
            elif rel not in listed and not (d == folder and entry.name == MANIFEST):
                out.append(rel)

    walk(folder)
    return out


def damaged_files(folder: Path, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` whose SHA-256 differs from the folder's manifest (none without a manifest)."""
    meta = read_manifest(folder)
    if meta is None:
        return []
    out = []
    for name in names:
        entry = meta["files"].get(name)
        if entry is None:
            continue
        f = folder / name
        if not f.is_file() or f.stat().st_size != entry.get("bytes") or sha256_file(f) != entry.get("sha256"):
            out.append(name)
    return out


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------


def check_out_folder(out: str | Path, option: str = "--out") -> Path:
    """The folder the user chose; refused (one line) when it exists and is not a folder."""
    if not str(out).strip() or any(ord(c) < 32 for c in str(out)):
        raise OutputError(f"{option} {str(out)!r}: must be a folder name (not empty, no control characters)")
    p = Path(out)
    if p.is_symlink() and not p.is_dir():
        raise OutputError(f"{option} {out}: is a link to something that is not a folder")
    if p.exists() and not p.is_dir():
        raise OutputError(f"{option} {out}: exists and is not a folder")
    return p


def check_files_replaceable(folder: Path, names: Iterable[str], ours: set[str], overwrite: bool, writer: str) -> None:
    """Refuse (one line) when a file ``writer`` would write into ``folder`` is in the way: a link,
    anything not a plain file, a file that an earlier run of ``writer`` did not write (not in
    ``ours``), or any existing one without ``overwrite``.  Other files in the folder are left alone."""
    for name in names:
        p = folder / name
        if p.is_symlink():
            raise OutputError(f"{p}: is a link; valuecapture does not write through links (choose another --out)")
        if not p.exists():
            continue
        if name not in ours or not p.is_file():
            raise OutputError(
                f"{p}: exists and was not written by valuecapture {writer}; it is never replaced: move it or "
                "choose another --out"
            )
        if not overwrite:
            raise OutputError(f"{p}: exists; add --overwrite to replace it, or choose another --out")


def check_target(target: str | Path, overwrite: bool = False, what: str = "a result") -> None:
    """Refuse, before any work is done, a target that cannot be written without losing anything.

    A missing target is fine.  An existing one is replaced only with ``overwrite`` and only
    when everything in it was written by valuecapture (its ``manifest.json``)."""
    t = Path(target)
    if t.is_symlink():
        raise OutputError(f"{t}: is a link; valuecapture does not write through links (choose another --out)")
    if not t.exists():
        if t.parent.exists() and not t.parent.is_dir():
            raise OutputError(f"{t.parent}: exists and is not a folder")
        return
    if not t.is_dir():
        raise OutputError(
            f"{t}: exists and is a file, not a valuecapture result folder; move it or choose another --out"
        )
    foreign = foreign_entries(t)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise OutputError(
            f"{t}: exists and holds what valuecapture did not write ({shown}); it is never replaced: move it or "
            "choose another --out"
        )
    if not overwrite:
        raise OutputError(f"{t}: already holds {what}; add --overwrite to replace it, or choose another --out")


@contextmanager
def atomic_dir(target: str | Path, what: str, overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``target``; when the block succeeds, write its
    manifest and swap it into place (a previous result is replaced only with ``overwrite``,
    see :func:`check_target`); on any error remove it and leave ``target`` as it was."""
    t = Path(target)
    check_target(t, overwrite, what)
    parent = t.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{t.name}.partial-", dir=parent))
        _chmod_default(tmp, directory=True)
    except OSError as exc:
        raise WriteFailure(f"cannot write {what} to {parent}: {exc.strerror or exc}") from None
    try:
        yield tmp
        write_manifest(tmp, what)
        check_target(t, overwrite, what)  # still ours to replace (a lock keeps other runs out)
        old = None
        if t.exists():
            old = parent / f".{t.name}.old-{os.getpid()}"
            os.replace(t, old)
        os.replace(tmp, t)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------


@dataclass
class RunLock:
    """An exclusive OS-level lock on ``folder/.<name>.lock`` (see the module docstring).

    The lock file records the owner's pid, host and start time, for the message a second
    run gets; the lock itself is the kernel's, so it vanishes with the process."""

    folder: Path
    name: str
    fd: int | None = None

    @property
    def path(self) -> Path:
        return Path(self.folder) / f".{self.name}.lock"

    def acquire(self) -> RunLock:
        import fcntl  # lazy: POSIX only (no fcntl module on Windows)

        Path(self.folder).mkdir(parents=True, exist_ok=True)
        for _ in range(50):  # retried only when another process removed the file meanwhile
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES):  # held by a live process
                    raise LockedError(
                        f"{Path(self.folder) / self.name}: {self._owner()} is writing here; wait for it to finish or "
                        "stop it"
                    ) from None
                raise WriteFailure(f"cannot lock {self.path}: {exc.strerror or exc}") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # the previous owner removed the file between our open and lock
                os.close(fd)
                continue
            owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps(owner).encode())
            self.fd = fd
            return self
        raise WriteFailure(f"cannot lock {self.path}: it keeps being replaced")

    def _owner(self) -> str:
        try:
            o = json.loads(self.path.read_text(encoding="utf-8"))
            return f"another valuecapture run (pid {int(o['pid'])} on {o['host']}, started {o['started']})"
        except (OSError, ValueError, KeyError, TypeError):
            return "another valuecapture run"

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: a waiting opener sees a new file
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


@contextmanager
def claimed(folder: str | Path, name: str, what: str = "results") -> Iterator[RunLock]:
    """Hold the lock of ``folder/name`` for the block; a ``folder`` this call created is
    removed again when the block wrote nothing into it."""
    f = Path(folder)
    created = not f.exists()
    try:
        lock = RunLock(f, name).acquire()
    except WriteFailure as exc:
        raise WriteFailure(f"cannot write {what} to {f}: {exc}") from None
    except OSError as exc:
        raise WriteFailure(f"cannot write {what} to {f}: {exc.strerror or exc}") from None
    try:
        yield lock
    finally:
        lock.release()
        if created:
            try:
                f.rmdir()
            except OSError:
                pass
