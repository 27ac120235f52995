"""The names an interpreter has in an environment's ``bin/``: what the creator, convert and explain recognise.

One place for that knowledge, so that a name a new CPython adds is learnt once:

- ``python``, ``python3``, ``python3.X`` (virtualenv, ``venv``, uv);
- ``python3.Xt``, the free-threaded build's own name (PEP 703: ABI flag ``t``; virtualenv adds it for a
  free-threaded interpreter, and ``make install`` names the binary so);
- ``pypy``, ``pypy3``, ``pypy3.X`` (PyPy);
- ``𝜋thon`` (U+1D70B MATHEMATICAL ITALIC SMALL PI, then ``thon``), which CPython 3.14's ``venv`` adds next to
  the others, a link to ``python`` (gh-119535, PR #125035); only 3.14 makes it.
"""

from __future__ import annotations

import re

#: The name CPython 3.14's ``venv`` adds in ``bin/``.
PI_THON = "\N{MATHEMATICAL ITALIC SMALL PI}thon"
_INTERPRETER_NAME = re.compile(rf"(?:python|pypy)(?:3(?:\.[0-9]+t?)?)?|{PI_THON}")


def is_interpreter_name(name: str) -> bool:
    """Tell whether ``name`` is one an interpreter has in ``bin/``: ``python3.12``, ``python3.13t``, ``pypy3``, ...

    :param name: a file name

    :returns: ``True`` for an interpreter name

    """
    return _INTERPRETER_NAME.fullmatch(name) is not None


def is_free_threaded_name(name: str) -> bool:
    """Tell whether ``name`` is the free-threaded build's own name, ``python3.Xt``.

    :param name: a file name

    :returns: ``True`` for such a name

    """
    return name.endswith("t") and name != PI_THON and is_interpreter_name(name)


__all__ = [
    "PI_THON",
    "is_free_threaded_name",
    "is_interpreter_name",
]
