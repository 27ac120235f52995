"""Find the compiled stub shipped in this package and put it into an environment's ``bin`` directory."""

from __future__ import annotations

import os
import shutil
from importlib.resources import as_file, files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.abc import Traversable  # importlib.resources.abc from 3.11 on
    from pathlib import Path

#: File name of the compiled stub inside the installed package.
STUB_NAME = "symlink-safe-stub"
_PACKAGE = "virtualenv_symlink_safe"


def stub_resource() -> Traversable:
    """Locate the compiled stub inside the installed package; ``importlib.resources.as_file`` gives its path.

    :returns: the package resource, which may not exist in a build without a compiler

    """
    return files(_PACKAGE).joinpath(STUB_NAME)


def stub_available() -> bool:
    """Whether this installation carries a compiled stub.

    :returns: ``True`` when the build placed the stub next to this module

    """
    return stub_resource().is_file()


def install_stub(bin_dir: Path, names: Sequence[str]) -> None:
    """Make every name in ``bin_dir`` the stub: one copy, the other names hard links to it.

    Each name is replaced atomically, so a name is either its old file or the stub, never half written.
    Hard links, not symlinks: CPython 3.11+ resolves a symlinked ``sys.executable`` to find its base,
    and would find the stub (contract rule 8).

    :param bin_dir: the environment's ``bin`` directory
    :param names: the interpreter names to install, the first gets the copy

    """
    first = bin_dir / names[0]
    with as_file(stub_resource()) as stub:
        _replace(first, lambda tmp: shutil.copyfile(stub, tmp))
    for name in names[1:]:
        _replace(bin_dir / name, lambda tmp: _link_or_copy(first, tmp))


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # some filesystems refuse hard links; a copy is byte-identical
        shutil.copyfile(src, dst)


def _replace(target: Path, write: Callable[[Path], object]) -> None:
    tmp = target.with_name(f".{target.name}.symlink-safe-tmp")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        tmp.chmod(0o755)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = [
    "STUB_NAME",
    "install_stub",
    "stub_available",
    "stub_resource",
]
