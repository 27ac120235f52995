"""Find the compiled stub shipped in this package and put it into an environment's ``bin`` directory."""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which costs ``convert`` more than its work
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: File name of the compiled stub inside the installed package.
STUB_NAME = "symlink-safe-stub"
_PACKAGE = "virtualenv_symlink_safe"


def stub_resource() -> Path:
    """Locate the compiled stub inside the installed package.

    An installed wheel holds it next to this module, found without ``importlib.resources`` (whose import costs
    ``convert`` more than the conversion). Only when it is not there, as in an editable install whose built files
    live apart from the sources, is the import system asked.

    :returns: its path, which may not exist in a build without a compiler

    """
    here = Path(__file__).with_name(STUB_NAME)
    if here.is_file():
        return here
    from importlib.resources import files  # noqa: PLC0415  # see above

    found = files(_PACKAGE).joinpath(STUB_NAME)
    return found if isinstance(found, Path) else here  # an executable must be a real file anyway


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
    stub = stub_resource()
    _replace(first, lambda tmp: _copy(stub, tmp))
    for name in names[1:]:
        _replace(bin_dir / name, lambda tmp: _link_or_copy(first, tmp))


def _copy(src: Path, dst: Path) -> None:
    # The stub is small (tens of KiB), so one read and one write do; shutil would cost more to import than this.
    dst.write_bytes(src.read_bytes())


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # some filesystems refuse hard links; a copy is byte-identical
        _copy(src, dst)


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
