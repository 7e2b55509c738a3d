"""Reading a user's input files: only regular files, and only up to a size limit.

Scenario and experiment files (and, later, customer tables) are data the user points at;
reading them must neither hang on a device (``/dev/zero``) nor fill memory with a huge file.
"""

from __future__ import annotations

from pathlib import Path

#: Largest scenario or experiment file read (a TOML file of a few kB; a guard against /dev/zero).
MAX_INPUT_BYTES = 16 * 2**20


class InputFileError(ValueError):
    """A path the user gave is not a regular file, or is too large to read."""


def read_input(path: str | Path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a user's input file, read only if it is a regular file of at most ``limit`` bytes.

    Raises ``FileNotFoundError``, ``IsADirectoryError`` or :class:`InputFileError` (not a regular
    file, too large) with a message that names the file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: file not found")
    if p.is_dir():
        raise IsADirectoryError(f"{path}: is a directory")
    if not p.is_file():
        raise InputFileError(f"{path}: is not a regular file")
    size = p.stat().st_size
    if size > limit:
        raise InputFileError(f"{path}: is {size / 2**20:.1f} MiB; at most {limit // 2**20} MiB is read")
    with open(p, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputFileError(f"{path}: is larger than {limit // 2**20} MiB; at most that is read")
    return data
