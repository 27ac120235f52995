"""A virtualenv creator whose environments keep working when their interpreter is symlinked."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("virtualenv-symlink-safe")
except PackageNotFoundError:  # pragma: no cover - only when run from a bare source tree
    __version__ = "0.0.0"

__all__ = [
    "__version__",
]
