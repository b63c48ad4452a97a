"""repzo-sync: keeps Repzo and the systems beside it in sync, both ways."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("repzo-sync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
