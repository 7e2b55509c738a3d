"""The ``valuecapture`` command: argument parsing and printing over the public API, and the classroom game."""

from valuecapture.cli.main import main

__all__ = ["main"]
