"""The package version (one place; every result and store records it)."""

__version__ = "0.2.0"
