"""Real interpreters, real environments, real subprocesses: the fixtures every test builds on."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from enum import IntEnum
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Names of the probe's output keys, the ``sys`` values a ``--copies`` environment is compared on.
PROBE = r"""
import json, site, sys, sysconfig
try:
    import marker_symlink_safe
    marker = marker_symlink_safe.WHERE
except ImportError:
    marker = None
print(json.dumps({
    "executable": sys.executable,
    "prefix": sys.prefix,
    "exec_prefix": sys.exec_prefix,
    "base_prefix": sys.base_prefix,
    "base_exec_prefix": sys.base_exec_prefix,
    "base_executable": getattr(sys, "_base_executable", None),
    "path": sys.path,
    "sysconfig": sysconfig.get_paths(),
    "site_packages": site.getsitepackages(),
    "marker": marker,
}))
"""

#: C15: what pip decides wheels by, and what the platform module reads from the interpreter's file.
TAGS_REPORT = """
import json, platform
from pip._vendor.packaging import tags
print(json.dumps({
    "tags": [str(tag) for tag in tags.sys_tags()],
    "libc_ver": platform.libc_ver(),
    "architecture": platform.architecture(),
}))
"""

#: Per-subprocess limit: an exec loop must show up as a failure, not a hang.
RUN_TIMEOUT = 60


def strace_or_skip() -> str:
    """``strace``, for a test that counts the stub's own system calls; skip where it cannot see them."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (.ci/run installs it)")
    if under_emulation():
        pytest.skip("under qemu-user strace sees the emulator's system calls, not the stub's")
    return strace


def calls_after(trace: str, executed: Path) -> str:
    """What ``strace -f`` saw after the ``execve`` of ``executed`` that succeeded, up to the next ``execve``."""
    lines = trace.splitlines()
    start = next(i for i, line in enumerate(lines) if f'execve("{executed}",' in line and line.endswith("= 0"))
    end = next((i for i in range(start + 1, len(lines)) if "execve(" in lines[i]), len(lines))
    return "\n".join(lines[start + 1 : end])


def under_emulation() -> bool:
    """Say whether this interpreter runs under qemu-user (tox -e arch's emulated roots).

    There ``stat`` of ``/proc/self/exe`` describes the emulator, while the file it opens is the emulated program
    (contract rule 1.3); on hardware both are the interpreter.
    """
    try:
        fd = os.open("/proc/self/exe", os.O_RDONLY)
    except OSError:
        return False
    try:
        opened = os.fstat(fd)
    finally:
        os.close(fd)
    linked = Path("/proc/self/exe").stat()
    return (opened.st_dev, opened.st_ino) != (linked.st_dev, linked.st_ino)


#: How many times slower a Python program runs under qemu-user than on the hardware it emulates, for bounds that
#: a whole Python program (pip, virtualenv) must meet: 1 on hardware.
EMULATION_SLOWDOWN = 10 if under_emulation() else 1
#: uv from the test group, beside the interpreter running the tests.
UV = Path(sys.executable).parent / "uv"


class Status(IntEnum):
    """The stub's exit statuses, as ``src/stub/stub.c`` and docs/reference/exit-statuses.rst define them."""

    NO_SELF = 101
    NO_ENV = 102
    CFG_UNREADABLE = 103
    CFG_TOO_LARGE = 104
    CFG_NOT_TEXT = 105
    NO_BASE_KEY = 106
    BASE_UNUSABLE = 107
    LINK_LOOP = 108
    NESTING = 109
    PATH_TOO_LONG = 110
    EXEC_FAILED = 111
    QUERY_UNWRITTEN = 112
    COMPANION_UNUSABLE = 113


@dataclass(frozen=True)
class Target:
    """An interpreter the tests create environments from."""

    exe: Path
    version: tuple[int, int, int]
    origin: str
    implementation: str = "CPython"
    free_threaded: bool = False
    """A free-threaded build (PEP 703): ABI flag ``t``, ``lib/pythonX.Yt``, ``bin/pythonX.Yt``."""

    @property
    def short(self) -> str:
        return f"{self.version[0]}.{self.version[1]}"

    @property
    def id(self) -> str:
        thread = "t" if self.free_threaded else ""
        return f"{self.implementation.lower()}{'.'.join(map(str, self.version))}{thread}-{self.origin}"

    @property
    def is_pypy(self) -> bool:
        return self.implementation == "PyPy"

    @property
    def builtin(self) -> str:
        """virtualenv's own creator for this interpreter, the control every comparison is made against."""
        return "pypy3-posix" if self.is_pypy else "cpython3-posix"

    @property
    def lib(self) -> str:
        """The folder under ``lib/`` that holds the environment's site-packages."""
        return f"pypy{self.short}" if self.is_pypy else f"python{self.short}{'t' if self.free_threaded else ''}"


def _pyenv_root() -> Path | None:
    if root := os.environ.get("PYENV_ROOT"):
        return Path(root)
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    out = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _facts_of(exe: Path) -> tuple[tuple[int, int, int], str, bool]:
    """The version, the implementation and whether it is a free-threaded build, from one run of ``exe``."""
    code = (
        "import sys, platform, sysconfig; print(*sys.version_info[:3], platform.python_implementation(),"
        " int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))"
    )
    out = subprocess.run([str(exe), "-c", code], capture_output=True, text=True, check=True, timeout=RUN_TIMEOUT)
    major, minor, micro, implementation, free_threaded = out.stdout.split()
    return (int(major), int(minor), int(micro)), implementation, free_threaded == "1"


def _version_of(exe: Path) -> tuple[tuple[int, int, int], str]:
    version, implementation, _ = _facts_of(exe)
    return version, implementation


def _candidates() -> list[tuple[Path, str]]:
    """Every interpreter this machine offers: ``SYMLINK_SAFE_TEST_PYTHONS``, or pyenv's and the system ``python3``."""
    if chosen := os.environ.get("SYMLINK_SAFE_TEST_PYTHONS"):
        return [(Path(p), "env") for p in chosen.split(os.pathsep) if p]
    found: list[tuple[Path, str]] = []
    root = _pyenv_root()
    if root is not None and (root / "versions").is_dir():
        versions = []
        for version_dir in (root / "versions").iterdir():
            parts = version_dir.name.split(".")
            if not (len(parts) > 1 and parts[0].isdigit() and parts[1].isdigit()):
                continue  # pypy3.9-7.3.x, miniconda, ...: not CPython targets
            if (major_minor := (int(parts[0]), int(parts[1]))) >= (3, 8):
                versions.append((major_minor, version_dir))
        found.extend((version_dir / "bin" / "python3", "pyenv") for _, version_dir in sorted(versions))
    system = Path("/usr/bin/python3")
    if system.exists():
        found.append((system, "system"))
    pypy = Path("/usr/bin/pypy3")  # Debian's
    if pypy.exists():
        found.append((pypy, "debian"))
    elif os.environ.get("SYMLINK_SAFE_REQUIRE_PYPY"):
        msg = "SYMLINK_SAFE_REQUIRE_PYPY is set but /usr/bin/pypy3 is missing (apt-get install pypy3)"
        raise RuntimeError(msg)
    return found


def discover_targets() -> list[Target]:
    """The target interpreters; one listed but unusable is an error, not a skip."""
    targets = []
    for exe, origin in _candidates():
        version, implementation, free_threaded = _facts_of(exe)  # raises: a listed interpreter must run
        if implementation not in {"CPython", "PyPy"}:
            continue
        targets.append(Target(exe, version, origin, implementation, free_threaded))
    if not targets:
        msg = "no target interpreter found: install pyenv versions or set SYMLINK_SAFE_TEST_PYTHONS"
        raise RuntimeError(msg)
    return targets


#: pip releases before this one fail in every environment of Python 3.12 and later: their vendored
#: ``pkg_resources`` registers ``pkgutil.ImpImporter``, which 3.12 removed.
PIP_FOR_3_12 = (23, 1)


def unserved_reason(target: Target) -> str | None:
    """Why the installed virtualenv cannot make a working environment from ``target`` at all, with any creator.

    virtualenv seeds the pip it bundles for the target's version; before 20.21.1 that is older than 23.1 (pip
    22.3.1 up to 20.17, 23.0 from 20.18), so seeded environments of CPython 3.12 and later get a pip that cannot
    install anything, with every creator, ``cpython3-posix`` included. Such an interpreter is left out of the
    session, and the header and the summary say so.
    """
    if target.version[:2] < (3, 12):
        return None
    try:
        from virtualenv.seed.wheels.embed import get_embed_wheel  # noqa: PLC0415  # the installed virtualenv's
    except ImportError:  # tox -e wheel counts targets where it runs no virtualenv: the installed wheel's tests do
        return None

    wheel = get_embed_wheel("pip", target.short)
    if wheel is None or tuple(wheel.version_tuple) >= PIP_FOR_3_12:
        return None
    return (
        f"virtualenv {metadata.version('virtualenv')} seeds pip {wheel.version} for Python {target.short}, "
        f"which fails there (pkgutil.ImpImporter is gone since 3.12); pip {'.'.join(map(str, PIP_FOR_3_12))} "
        "or later is needed"
    )


@functools.cache
def _discovered() -> tuple[tuple[Target, ...], tuple[tuple[Target, str], ...]]:
    """The interpreters found, split into those the installed virtualenv serves and those it does not, with why."""
    found = discover_targets()
    unserved = tuple((t, reason) for t in found if (reason := unserved_reason(t)) is not None)
    served = tuple(t for t in found if t not in {t for t, _ in unserved})
    if not served:
        msg = "no target interpreter the installed virtualenv serves: " + "; ".join(r for _, r in unserved)
        raise RuntimeError(msg)
    return served, unserved


def targets() -> tuple[Target, ...]:
    """The target interpreters, found once, when the first test that needs one is collected."""
    return _discovered()[0]


def newest() -> Target:
    """The newest CPython target (the newest target when there is no CPython): for tests one interpreter suffices."""
    cpythons = [t for t in targets() if not t.is_pypy] or list(targets())
    return max(cpythons, key=lambda t: t.version)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--contract",
        action="append",
        default=[],
        metavar="ID",
        help="run only the tests whose contract marker pins ID: a case (C7, E4) or a rule (rule 2.6, or 2.6; rule 2 "
        "takes its parts too); repeat it for more",
    )


def contract_id(text: str) -> str:
    """The spelling of a contract id that the ``contract`` markers use (``C7``, ``E4``, ``rule 2.6``, ``rule 5``).

    :param text: the id as given: ``C7`` or ``c7``; ``rule 2.6``, ``2.6`` or ``rule_2_6``

    :raises pytest.UsageError: for anything that is no case or rule id

    :returns: the id as the markers spell it

    """
    if case := re.fullmatch(r"([ce])(\d+)", text.strip(), re.IGNORECASE):
        return f"{case.group(1).upper()}{case.group(2)}"
    if rule := re.fullmatch(r"(?:rule[ _]*)?(\d+)(?:[._](\d+))?", text.strip(), re.IGNORECASE):
        return f"rule {rule.group(1)}" + (f".{rule.group(2)}" if rule.group(2) else "")
    msg = f"--contract {text!r}: not a case (C7, E4) or rule (rule 2.6, 2.6) of docs/reference/contract.rst"
    raise pytest.UsageError(msg)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With ``--contract``, keep the tests that pin one of the ids given (a rule's id takes in its parts' too)."""
    wanted = [contract_id(text) for text in config.getoption("contract")]
    if not wanted:
        return
    kept, dropped = [], []
    for item in items:
        pinned = {i for mark in item.iter_markers("contract") for i in mark.args}
        if any(i == w or i.startswith(f"{w}.") for i in pinned for w in wanted):
            kept.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that takes ``target`` once per interpreter; tests that take none never look for any."""
    chosen = metafunc.definition.iter_markers("parametrize")
    if "target" in metafunc.fixturenames and not any("target" in str(mark.args[0]).split(",") for mark in chosen):
        metafunc.parametrize("target", targets(), ids=[t.id for t in targets()], indirect=True)


def pytest_report_header() -> list[str]:
    try:
        lines = [f"virtualenv {metadata.version('virtualenv')}"]
    except metadata.PackageNotFoundError:  # tox -e wheel runs its tests from an environment without it
        lines = ["virtualenv not installed here"]
    if _discovered.cache_info().currsize == 0:
        return [*lines, "target interpreters: none needed"]
    served, unserved = _discovered()
    lines.append("target interpreters: " + ", ".join(f"{t.id} ({t.exe})" for t in served))
    lines.extend(f"NOT SERVED {t.id} ({t.exe}): {reason}" for t, reason in unserved)
    return lines


_EXERCISED: set[str] = set()


def exercise(target: Target) -> Target:
    """Count an interpreter as exercised by this session, for one a test picks without the ``target`` fixture.

    :param target: the interpreter

    :returns: the same interpreter

    """
    _EXERCISED.add(target.id)
    return target


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _discovered.cache_info().currsize == 0:
        return
    terminalreporter.write_sep("-", "interpreters exercised")
    for target in targets():
        mark = "ran" if target.id in _EXERCISED else "NOT RUN"
        terminalreporter.write_line(f"{mark:10} {target.id:28} {target.exe}")
    for target, reason in _discovered()[1]:
        terminalreporter.write_line(f"{'NOT SERVED':10} {target.id:28} {target.exe}: {reason}")


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Target:
    """Each test that asks for it runs once for every interpreter on the machine."""
    chosen: Target = request.param
    return exercise(chosen)


@pytest.fixture(scope="session")
def app_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One virtualenv app-data folder for the session: discovery and seed wheels are cached once."""
    return tmp_path_factory.mktemp("app-data")


@pytest.fixture(scope="session")
def clean_environ(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment subprocesses run with: no user virtualenv config, no inherited PYTHON* variables."""
    config = tmp_path_factory.mktemp("config") / "virtualenv.ini"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUALENV_", "PYTHON", "PIP_"))}
    env["VIRTUALENV_CONFIG_FILE"] = str(config)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


@dataclass
class Venv:
    """A created environment."""

    path: Path
    target: Target

    @property
    def bin(self) -> Path:
        return self.path / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def site_packages(self) -> Path:
        return self.path / "lib" / self.target.lib / "site-packages"

    @property
    def cfg(self) -> Path:
        return self.path / "pyvenv.cfg"

    def add_marker(self) -> None:
        """Put a module into the environment's own site-packages: it imports only when the environment is used."""
        (self.site_packages / "marker_symlink_safe.py").write_text(f"WHERE = {str(self.path)!r}\n")
        # A copied environment carries the old bytecode; a source of the same size written within the same second
        # (``venv`` -> ``copy``) would pass its mtime-and-size check and import the old WHERE.
        for stale in (self.site_packages / "__pycache__").glob("marker_symlink_safe.*"):
            stale.unlink()


class Runner:
    """Runs real subprocesses with the clean environment."""

    def __init__(self, environ: dict[str, str], app_data: Path) -> None:
        self.environ = environ
        self.app_data = app_data

    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        env: dict[str, str] | None = None,
        check: bool = False,
        timeout: float = RUN_TIMEOUT,
        **kwargs: object,
    ) -> subprocess.CompletedProcess[str]:
        result: subprocess.CompletedProcess[str] = subprocess.run(  # type: ignore[call-overload]
            [str(a) for a in args],
            env=self.environ if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            msg = f"{args} exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            raise AssertionError(msg)
        return result

    def virtualenv(self, *args: str | os.PathLike[str], env: dict[str, str] | None = None) -> str:
        """Run the virtualenv command line of the test environment, which has this plugin installed."""
        cmd = [sys.executable, "-m", "virtualenv", "--app-data", str(self.app_data), *map(str, args)]
        return self.run(cmd, env=env, check=True).stdout

    def create(
        self,
        target: Target,
        dest: Path,
        *extra: str,
        creator: str = "symlink-safe",
        seed: bool = False,
        marker: bool = True,
    ) -> Venv:
        """Create an environment at ``dest`` with ``creator`` (``--no-seed`` unless ``seed``)."""
        args = ["-p", str(target.exe), "--creator", creator, *extra]
        if not seed:
            args.append("--no-seed")
        self.virtualenv(*args, dest)
        venv = Venv(dest, target)
        if marker:
            venv.add_marker()
        return venv

    def probe(self, *cmd: str | os.PathLike[str], **kwargs: object) -> dict[str, object]:
        """Run ``cmd -c PROBE`` and return what the interpreter reports of itself."""
        result = self.run([*cmd, "-c", PROBE], check=True, **kwargs)  # type: ignore[arg-type]
        report: dict[str, object] = json.loads(result.stdout)
        return report


def seeded(runner: Runner, target: Target, dest: Path, creator: str) -> Venv:
    """An environment with pip in it, whose vendored ``packaging`` computes the tags (C15)."""
    if target.version[:2] >= (3, 9):
        return runner.create(target, dest, creator=creator, seed=True, marker=False)
    # virtualenv's bundled seeder no longer ships pip for 3.8: the interpreter's own ensurepip does.
    venv = runner.create(target, dest, creator=creator, marker=False)
    runner.run([venv.python, "-m", "ensurepip", "--default-pip"], check=True)
    return venv


@pytest.fixture(scope="session")
def runner(clean_environ: dict[str, str], app_data: Path) -> Runner:
    return Runner(clean_environ, app_data)


@pytest.fixture(scope="session")
def uv_environ(runner: Runner, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``uv`` from the test extra, offline, with its own cache and no user configuration."""
    assert UV.is_file(), f"uv is missing from the test environment ({UV}); it is in the test extra"
    return {
        **runner.environ,
        "UV_CACHE_DIR": str(tmp_path_factory.mktemp("uv-cache")),
        "UV_OFFLINE": "1",
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
    }


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A working folder whose real path is itself, so expected paths need no resolving."""
    return tmp_path.resolve()


def build_marker_wheel(folder: Path, name: str = "symlink_safe_probe") -> Path:
    """A minimal pure-Python wheel, so pip installs a package without reaching an index."""
    dist = f"{name}-1.0"
    wheel = folder / f"{dist}-py3-none-any.whl"
    files = {
        f"{name}/__init__.py": "import sys\nPREFIX = sys.prefix\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = [f"{path},," for path in files] + [f"{dist}.dist-info/RECORD,,"]
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel
