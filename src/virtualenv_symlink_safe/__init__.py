"""A virtualenv creator whose environments keep working when their interpreter is symlinked."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """Read ``__version__`` only when asked: ``importlib.metadata`` costs more than the whole ``convert`` command.

    :param name: the attribute asked for

    :returns: the installed version for ``__version__``

    :raises AttributeError: for any other name

    """
    if name != "__version__":
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("virtualenv-symlink-safe")
    except PackageNotFoundError:  # pragma: no cover - only when run from a bare source tree
        return "0.0.0"


__all__ = [
    "__version__",  # provided by __getattr__
]
