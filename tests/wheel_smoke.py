"""Check an installed wheel on its own platform: the release workflow runs this under QEMU for every architecture.

Run as ``python wheel_smoke.py`` by the interpreter the wheel was installed for (cibuildwheel's test-command, and
tests/test_wheel.py here). It needs nothing but the wheel and its dependencies: no compiler, no pytest. It checks
that the stub is linked as contract rule 5 says for this interpreter's C library (on glibc a static musl program,
which starts quicker than a static glibc one; on musl against the interpreter's own musl loader), that the creator's
ELF check accepts it, that ``stub-build.json``, the package metadata and ``__version__`` name one version, and that
an environment works through a symlink to it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

import virtualenv_symlink_safe
from virtualenv_symlink_safe.elf import read_header, stub_mismatch


def check_stub() -> str:
    """Check the stub's linkage, its fit for this interpreter and its recorded version.

    :returns: what was built, in a few words

    """
    build = json.loads(files("virtualenv_symlink_safe").joinpath("stub-build.json").read_text(encoding="utf-8"))
    loader = read_header(Path(os.path.realpath(sys.executable))).interpreter
    musl = loader is not None and "ld-musl-" in loader
    expected = ("musl", "dynamic") if musl else ("musl", "static")
    if wanted := os.environ.get("SYMLINK_SAFE_EXPECT_STUB"):  # a source build that had no musl compiler: "glibc-static"
        libc, _, linkage = wanted.partition("-")
        expected = (libc, linkage)
    got = (build["libc"], build["linkage"])
    assert got == expected, f"stub built {got}, {expected} wanted for an interpreter with loader {loader}"
    assert (reason := stub_mismatch(sys.executable)) is None, reason
    versions = {build["version"], version("virtualenv-symlink-safe"), virtualenv_symlink_safe.__version__}
    assert len(versions) == 1, f"the versions disagree: {sorted(versions)}"
    return f"{build['linkage']} {build['libc']} stub, version {build['version']}"


def check_environment(work: Path) -> None:
    """Create a symlink-safe environment and run it through a symlink from outside.

    :param work: an empty folder to work in

    """
    env = work / "env"
    subprocess.run(
        [sys.executable, "-m", "virtualenv", "--creator", "symlink-safe", "--no-seed", "--no-periodic-update", env],
        check=True,
        capture_output=True,
    )
    link = work / "link"
    link.symlink_to(env / "bin" / "python")
    got = subprocess.run([link, "-c", "import sys; print(sys.prefix)"], check=True, capture_output=True, text=True)
    assert got.stdout.strip() == str(env), f"the symlink ran in {got.stdout.strip()}, not in {env}"


def main() -> None:
    """Run the checks; an assertion names the first that fails."""
    built = check_stub()
    with tempfile.TemporaryDirectory() as folder:
        check_environment(Path(folder).resolve())
    sys.stdout.write(f"wheel smoke test passed: {built}, an environment works through a symlink\n")


if __name__ == "__main__":
    main()
