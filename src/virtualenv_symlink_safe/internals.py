"""Every part of virtualenv the plugin relies on that virtualenv does not document as its plugin interface.

Checked against virtualenv 20.16.7 (the floor in ``pyproject.toml``, ``tox run -e oldest``) and 21.15.13 (the
newest at the time of writing, ``tox run -e py``). Each name below says what the plugin relies on; when a virtualenv
release changes one of them, this module is the one to change.

The documented interface (a ``virtualenv.create`` entry point whose class has ``can_create``,
``add_parser_arguments`` and ``run``, and ``Session.run`` calling ``creator.run()``, then the seeder, then the
activators, then ``creator.pyenv_cfg.write()``) is used in ``creator.py`` directly, and so is one fact of the
builtin creators' constructor: ``Creator.__init__`` reads the destination's old ``pyvenv.cfg``
(``PyEnvCfg.from_folder(dest)``; 21.x skips it with ``--clear``), so the plugin builds its layout under the
destination's lock. This module imports virtualenv: ``creator.py`` imports it only once virtualenv calls the plugin,
never at the plugin's import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# ``PyEnvCfg(content, path)`` with its ``content``, ``path`` and ``write()``: layout.FinalPyEnvCfg extends it.
from virtualenv.create.pyenv_cfg import PyEnvCfg

# The builtin creators the layouts extend (``cpython3-posix`` and ``pypy3-posix``), at these module paths in every
# version checked.
from virtualenv.create.via_global_ref.builtin.cpython.cpython3 import CPython3Posix
from virtualenv.create.via_global_ref.builtin.pypy.pypy3 import PyPy3Posix

if TYPE_CHECKING:
    from collections.abc import Iterator

    from python_discovery import PythonInfo
    from virtualenv.create.creator import Creator

#: The builtin creator of each implementation the plugin serves, by ``PythonInfo.implementation``.
BUILTIN_CREATORS: dict[str, type[CPython3Posix | PyPy3Posix]] = {"CPython": CPython3Posix, "PyPy": PyPy3Posix}


def builtin_creator(interpreter: PythonInfo) -> type[CPython3Posix | PyPy3Posix]:
    """Name the builtin creator virtualenv itself uses for ``interpreter`` on a POSIX system.

    :param interpreter: the interpreter the environment is created from

    :returns: the creator class (``CPython3Posix`` for anything but PyPy)

    """
    return BUILTIN_CREATORS.get(interpreter.implementation, CPython3Posix)


def interpreter_names(creator: type[CPython3Posix | PyPy3Posix], interpreter: PythonInfo) -> Iterator[str]:
    """List the names a builtin creator gives the interpreter in ``bin/``.

    Relies on the classmethod ``_executables(interpreter)``, which yields ``(source, names, must, when)`` for each
    executable the creator places (``names`` a list of file names in ``bin/``).

    :param creator: the builtin creator class (or a subclass)
    :param interpreter: the interpreter the environment is created from

    :returns: the names, in the creator's order, possibly repeated

    """
    for _, names, _, _ in creator._executables(interpreter):  # noqa: SLF001
        yield from names


def keep_destination(creator: Creator) -> None:
    """Stop ``Creator.run()`` from deleting the destination: the plugin has emptied it already.

    ``Creator.run()`` starts with ``if self.dest.exists() and self.clear: safe_delete(self.dest)`` in every version
    checked (21.x computes ``pyvenv.cfg`` first); the plugin empties the destination itself under its lock, keeping
    the held lock file, so the attribute is cleared before ``run()``.

    :param creator: the builtin creator about to run

    """
    creator.clear = False


def creator_arguments(creator: Creator) -> list[tuple[str, object]]:
    """List the ``(name, value)`` pairs virtualenv shows in a creator's ``repr`` (``Creator._args()``).

    :param creator: the builtin creator

    :returns: the pairs

    """
    return list(creator._args())  # noqa: SLF001


__all__ = [
    "BUILTIN_CREATORS",
    "CPython3Posix",
    "PyEnvCfg",
    "PyPy3Posix",
    "builtin_creator",
    "creator_arguments",
    "interpreter_names",
    "keep_destination",
]
