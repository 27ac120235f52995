"""tox -e arch: every architecture the wheels claim, checked from this one x86_64 machine.

Each architecture is checked in one of two depths (docs/development/checks.rst, "Architectures", says which runs
when, and why):

* **end to end**: a Debian root of that architecture (``make-root.sh``: debootstrap, its second stage under
  qemu-user-static through binfmt_misc, or natively under ``linux32`` for i686), made once per machine and kept
  under :envvar:`SYMLINK_SAFE_ROOTS`. Into it go a clone of this checkout (its uncommitted changes to tracked
  files and its new files included), the host's CA bundle and ``resolv.conf``. There, with the root's own gcc,
  CMake, Ninja and ``python3``, the project is built and installed into a virtual environment, and the
  conformance core, the ELF, tags, 2038 and rule 1.3 tests run against that ``python3``; then
  ``tests/wheel_smoke.py`` and, natively only, the seed reproducer with ``pip install attrs`` from PyPI in a
  symlink-safe environment run through a symlink (under emulation the pytest run's
  ``test_link_to_the_interpreter_imports_what_pip_installed`` runs it with a local wheel).
* **the stub**: the stub cross-compiled as the wheels carry it (a static musl program by ``zig cc``, built with CMake
  as a wheel build does) and as Debian's cross gcc links it (``<triplet>-gcc -static``: gcc's warnings on that ABI,
  and the fallback of a source build without zig); for each, the creator's ELF check (rule 5) run on it against
  that architecture's real interpreter
  (``python3.X`` from the archive's ``python3.X-minimal`` package, the chain of hashes from the archive's signed
  ``InRelease`` checked with ``gpgv``), and the stub run under qemu-user in an environment reached through a
  symlink, its trace showing that it believed ``argv[0]`` (rule 1.3), as on real hardware; and the zig stub's
  system calls before its ``execve``, as qemu-user's ``-strace`` reports them, the x86_64 wheel stub's.

Usage: ``python tests/arch/run.py [PYTEST ARGS]`` (``tox run -e arch -- [PYTEST ARGS]``), the arguments passed on
to pytest in each root; :envvar:`SYMLINK_SAFE_ARCHES` picks what runs end to end.
It prints what ran, where, with which interpreter and how long it took; the exit status is 1 when anything failed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
sys.path.insert(0, str(PROJECT / "src"))
from virtualenv_symlink_safe.elf import mismatch, read_header  # noqa: E402  # the checkout's, not an installed one

DEFAULT_ROOTS = Path("/var/cache/virtualenv-symlink-safe/roots")
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
#: What the project's tests need in the root's virtual environment; the build backend's too, as the package is
#: built there without build isolation (one index visit per root, not one per run).
DEPS = (
    "scikit-build-core>=0.11",
    "setuptools-scm>=8",
    "virtualenv>=20.16.7",
    "hypothesis>=6.100",
    "pytest>=8.3",
    "pytest-timeout>=2.3",
)
TESTS = (
    "tests/test_conformance.py",
    "tests/test_stub_rules.py",
    "tests/test_elf.py",
    "tests/test_tags.py",
    "tests/test_large_file_fields.py",
    "tests/test_self_identity.py",
)


@dataclass(frozen=True)
class Arch:
    """One architecture the wheels claim, as Debian and the toolchains name it."""

    name: str  # platform.machine() there
    debian: str  # Debian's architecture
    suite: str  # the Debian suite its root is made from
    triplet: str  # Debian's cross gcc prefix
    zig: str  # zig's target for the wheels' stub (src/stub/zig.cmake)
    qemu: str | None  # the qemu-user emulator; None where the host runs it natively

    @property
    def how(self) -> str:
        return f"qemu-{self.qemu}" if self.qemu else "native"


ARCHES = (
    Arch("i686", "i386", "bookworm", "i686-linux-gnu", "x86-linux-musl", None),
    Arch("aarch64", "arm64", "bookworm", "aarch64-linux-gnu", "aarch64-linux-musl", "aarch64"),
    Arch("s390x", "s390x", "bookworm", "s390x-linux-gnu", "s390x-linux-musl", "s390x"),
    Arch("armv7l", "armhf", "bookworm", "arm-linux-gnueabihf", "arm-linux-musleabihf", "arm"),
    Arch("ppc64le", "ppc64el", "bookworm", "powerpc64le-linux-gnu", "powerpc64le-linux-musl", "ppc64le"),
    # bookworm's main archive has no riscv64; trixie's has (the ports archive is not reachable from CI)
    Arch("riscv64", "riscv64", "trixie", "riscv64-linux-gnu", "riscv64-linux-musl", "riscv64"),
)
#: End to end in every run: 32-bit x86 (native, so cheap), a little-endian (aarch64) and the big-endian 64-bit one
#: (s390x); docs/development/checks.rst says why, and what the other three cost on demand.
EVERY_RUN = ("i686", "aarch64", "s390x")


@dataclass
class Outcome:
    """What one check of one architecture gave."""

    arch: Arch
    depth: str
    interpreter: str
    ok: bool
    seconds: float
    detail: str


def main() -> int:
    """Check the architectures chosen, then print what ran.

    :returns: the exit status

    """
    pytest_args = sys.argv[1:]  # passed on to pytest in each root, e.g. --contract C4
    roots = Path(os.environ.get("SYMLINK_SAFE_ROOTS") or DEFAULT_ROOTS)
    full = chosen(os.environ.get("SYMLINK_SAFE_ARCHES", ""))
    outcomes: list[Outcome] = []
    for arch in ARCHES:
        outcomes.append(check_stub(arch, roots))
        say(outcomes[-1])
    # The roots build and test side by side, all at once unless SYMLINK_SAFE_ARCH_JOBS says otherwise: most of their
    # time is one process each (emulated but for i686), so the cores are shared out and the short i686 run does not
    # hold an emulated one back; the emulated ones start first.
    picked = sorted((arch for arch in ARCHES if arch.name in full), key=lambda arch: arch.qemu is None)
    jobs = int(os.environ.get("SYMLINK_SAFE_ARCH_JOBS") or len(picked) or 1)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = [pool.submit(end_to_end, arch, roots, pytest_args) for arch in picked]
        for future in as_completed(running):
            outcome, log = future.result()
            sys.stdout.write(f"\n==== {outcome.arch.name} end to end ====\n{log}")
            outcomes.append(outcome)
            say(outcome)
    report(outcomes)
    return 0 if all(o.ok for o in outcomes) else 1


def chosen(value: str) -> tuple[str, ...]:
    """The architectures :envvar:`SYMLINK_SAFE_ARCHES` asks for end to end: ``all``, ``none``, names, or the default."""
    if not value.strip():
        return EVERY_RUN
    if value.strip() == "all":
        return tuple(a.name for a in ARCHES)
    if value.strip() == "none":
        return ()
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    known = {a.name for a in ARCHES} | {a.debian for a in ARCHES}
    if unknown := [n for n in names if n not in known]:
        sys.exit(f"SYMLINK_SAFE_ARCHES: unknown {', '.join(unknown)}; choose from {', '.join(sorted(known))}, all")
    return tuple(a.name for a in ARCHES if a.name in names or a.debian in names)


def say(outcome: Outcome) -> None:
    state = "ok" if outcome.ok else "FAILED"
    line = f"arch: {outcome.arch.name} {outcome.depth} {state} in {outcome.seconds:.0f}s: {outcome.detail}\n"
    sys.stdout.write(line)
    sys.stdout.flush()


def report(outcomes: list[Outcome]) -> None:
    """The table of what ran: architecture, how, depth, interpreter, result, time."""
    rows = [("architecture", "how", "checked", "interpreter", "result", "seconds")]
    rows += [
        (o.arch.name, o.arch.how, o.depth, o.interpreter, "ok" if o.ok else "FAILED", f"{o.seconds:.0f}")
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    sys.stdout.write("\narchitectures and interpreters that ran:\n")
    for row in rows:
        sys.stdout.write("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")
    not_run = [a.name for a in ARCHES if not any(o.arch == a and o.depth == "end to end" for o in outcomes)]
    if not_run:
        sys.stdout.write(f"not run end to end (SYMLINK_SAFE_ARCHES=all runs them): {', '.join(not_run)}\n")


def run(cmd: list[str | os.PathLike[str]], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command with its output shown as it comes, failing on a non-zero exit."""
    sys.stdout.flush()
    return subprocess.run([str(c) for c in cmd], check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


# --- end to end -------------------------------------------------------------------------------------------------


def end_to_end(arch: Arch, roots: Path, pytest_args: list[str]) -> tuple[Outcome, str]:
    """Make the root if need be, then build and check the project in it; the outcome and the output."""
    start = time.monotonic()
    root = roots / f"{arch.suite}-{arch.debian}"
    with tempfile.TemporaryFile("w+") as log:
        try:
            run(["nice", "-n", "10", HERE / "make-root.sh", arch.suite, arch.debian, root], stdout=log, stderr=log)
            made = time.monotonic() - start
            version = root_python(arch, root)
            prepare(root, log)
            run(enter(arch, root, ["/bin/bash", "/work/check.sh", *pytest_args]), stdout=log, stderr=log)
        except subprocess.CalledProcessError as error:
            outcome = Outcome(arch, "end to end", "?", ok=False, seconds=time.monotonic() - start, detail=str(error))
        else:
            seconds = time.monotonic() - start
            detail = f"root {made:.0f}s (made before when about 0), build and tests {seconds - made:.0f}s"
            outcome = Outcome(arch, "end to end", version, ok=True, seconds=seconds, detail=detail)
        log.seek(0)
        return outcome, log.read()


def enter(arch: Arch, root: Path, command: list[str]) -> list[str | os.PathLike[str]]:
    """The command that runs ``command`` in the root: its own mount namespace, /proc and /dev, a clean environment.

    The mounts live in the namespace only, so they are gone when the command ends, however it ends.
    """
    environ = {
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PIP_CERT": "/etc/ssl/certs/symlink-safe-host-ca.pem",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_ROOT_USER_ACTION": "ignore",
        "PIP_DEFAULT_TIMEOUT": "120",
        # built from source in the root without build isolation, so without ziglang: the static glibc fallback
        "SYMLINK_SAFE_EXPECT_STUB": "glibc-static",
        "SYMLINK_SAFE_TEST_PYTHONS": "/usr/bin/python3",
        "VIRTUALENV_CONFIG_FILE": "/work/project/tests/empty.ini",
        "ARCH_DEPS": " ".join(DEPS),
        "ARCH_TESTS": " ".join(TESTS),
        "ARCH_EMULATED": "1" if arch.qemu else "",
    }
    mounts = 'mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" env -i "$@"'
    personality = [] if arch.qemu else ["linux32"]
    return [
        "nice",
        "-n",
        "10",
        "unshare",
        "--mount",
        "--propagation",
        "private",
        *personality,
        "sh",
        "-c",
        mounts,
        root,
        *(f"{k}={v}" for k, v in environ.items()),
        *command,
    ]


def root_python(arch: Arch, root: Path) -> str:
    version = subprocess.run(
        [
            str(c)
            for c in enter(arch, root, ["/usr/bin/python3", "-c", "import platform; print(platform.python_version())"])
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"CPython {version} ({arch.suite}'s /usr/bin/python3)"


#: pytest's base folder inside a root, given by CHECK and removed from the host before each run.
BASETEMP = "/tmp/symlink-safe-arch"  # noqa: S108  # inside the root, which only root can enter
CHECK = r"""#!/bin/bash
# Written by tests/arch/run.py: build the project with the root's own toolchain and check it there.
set -euo pipefail
venv=/work/venv
# Each phase's wall time, for the report (docs/development/checks.rst: where an emulated run's minutes go).
phase() { echo "phase: $1 ${SECONDS}s"; SECONDS=0; }
SECONDS=0
if [ "$(cat "$venv/.deps" 2>/dev/null)" != "$ARCH_DEPS" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086
    "$venv/bin/pip" install --quiet $ARCH_DEPS
    echo "$ARCH_DEPS" >"$venv/.deps"
fi
phase "test tools installed (once per root)"
cd /work/project
echo "building the project in $(uname -m) with $(gcc --version | head -n 1)"
# The build folder is kept in the root between runs: CMake's compiler probes (half a minute under emulation) run once.
"$venv/bin/pip" install --quiet --no-deps --no-build-isolation --force-reinstall \
    --config-settings=build-dir=/work/build .
phase "project built and installed"
# shellcheck disable=SC2086
# A base folder of its own, emptied by pytest at the start: no numbered folders to scan and prune at the end (pytest
# 9.2's pruning left a scandir iterator open there, a ResourceWarning, which the warnings-as-errors setting fails).
"$venv/bin/python" -m pytest -p no:cacheprovider --basetemp=@BASETEMP@ -q $ARCH_TESTS "$@"
phase "pytest"
"$venv/bin/python" tests/wheel_smoke.py
phase "wheel_smoke"
# The seed reproducer, with a real package from the index, run through a symlink from outside the environment; not
# under emulation, where pip takes minutes and test_link_to_the_interpreter_imports_what_pip_installed has already
# run the reproducer (a local wheel)
if [ -n "$ARCH_EMULATED" ]; then
    echo "seed reproducer from the index: not under emulation (the pytest run above ran it with a local wheel)"
    exit 0
fi
rm -rf /work/seed /work/seed-link
"$venv/bin/python" -m virtualenv --quiet --creator symlink-safe --no-periodic-update /work/seed
ln -s /work/seed/bin/python /work/seed-link
/work/seed-link -m pip install --quiet attrs
where=$(/work/seed-link -c 'import attrs, sys; print(sys.prefix)')
[ "$where" = /work/seed ] || { echo "the seed reproducer ran in $where, not in /work/seed" >&2; exit 1; }
echo "seed reproducer: pip install attrs through a symlink: ok"
phase "seed reproducer"
""".replace("@BASETEMP@", BASETEMP)


def prepare(root: Path, log: IO[str]) -> None:
    """Put the checkout, the check script, the host's CA bundle and resolver into the root."""
    cert = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    shutil.copyfile(cert, root / "etc" / "ssl" / "certs" / "symlink-safe-host-ca.pem")
    resolv = root / "etc" / "resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copyfile("/etc/resolv.conf", resolv)
    work = root / "work"
    work.mkdir(exist_ok=True)
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    # pytest's base folder of the last run, removed from here: an i386 Python (32-bit time_t) cannot even lstat the
    # files tests/test_large_file_fields.py dates 2040, so pytest's own clean-up in the root fails on them
    shutil.rmtree(root / BASETEMP.lstrip("/"), ignore_errors=True)
    git = shutil.which("git")
    assert git is not None, "git is missing"
    run([git, "clone", "--quiet", "--no-hardlinks", PROJECT, project], stdout=log, stderr=log)
    # What the checkout holds beyond its last commit: changed tracked files and new ones git does not ignore.
    listed = subprocess.run(
        [git, "-C", str(PROJECT), "ls-files", "-z", "--modified", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = PROJECT / name, project / name
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        elif not source.exists():
            target.unlink(missing_ok=True)
    (work / "check.sh").write_text(CHECK)


# --- the stub of every architecture -------------------------------------------------------------------------------


def check_stub(arch: Arch, roots: Path) -> Outcome:
    start = time.monotonic()
    try:
        detail, interpreter = stub_checks(arch, roots / "interpreters" / f"{arch.suite}-{arch.debian}")
    except (subprocess.CalledProcessError, OSError, AssertionError) as error:
        return Outcome(arch, "stub", "?", ok=False, seconds=time.monotonic() - start, detail=str(error))
    return Outcome(arch, "stub", interpreter, ok=True, seconds=time.monotonic() - start, detail=detail)


def register_emulator(arch: Arch) -> None:
    """Let the kernel run the architecture's programs through qemu-user-static, as make-root.sh does for a root."""
    if arch.qemu is None:
        return
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", binfmt])
    entry = binfmt / f"qemu-{arch.qemu}"
    if not entry.is_file() or entry.read_text().splitlines()[0] != "enabled":
        run(["update-binfmts", "--enable", f"qemu-{arch.qemu}"])


def stub_checks(arch: Arch, cache: Path) -> tuple[str, str]:
    """Build the architecture's stubs, check each against its interpreter (rule 5) and run it through a symlink.

    The stub users get is the wheels' (a static musl program by ``zig cc``, built as the wheel build does, with CMake
    and ``-DSYMLINK_SAFE_ZIG_TARGET``). The static glibc one Debian's cross gcc links is checked too: it is what a
    source build falls back to without zig, and gcc's warnings (``-Werror``) on each ABI are not clang's.
    """
    register_emulator(arch)
    cc = shutil.which(f"{arch.triplet}-gcc")
    assert cc is not None, f"{arch.triplet}-gcc is missing: apt-get install gcc-{arch.triplet} (.ci/run does)"
    interpreter = fetch_interpreter(arch, cache)
    theirs = read_header(interpreter)
    described = []
    with tempfile.TemporaryDirectory(prefix=f"arch-{arch.name}-") as folder:
        work = Path(folder).resolve()
        for kind in ("zig", "gcc"):
            stub = work / kind / "env" / "bin" / "python"
            stub.parent.mkdir(parents=True)
            if kind == "zig":
                shutil.copyfile(zig_stub(arch, work / "build"), stub)
                stub.chmod(0o755)
            else:
                flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", "-static"]
                run([cc, *flags, "-o", stub, PROJECT / "src" / "stub" / "stub.c"])
            ours = read_header(stub)
            difference = mismatch(ours, theirs)
            assert difference is None, f"rule 5, the {kind} stub: {difference}"
            run_through_symlink(stub, work / kind)
            described.append(f"{kind} {ours.describe()}")
            if kind == "zig":
                calls = same_calls_as_x86_64(stub, arch.qemu, work / "calls")
    detail = (
        f"{'; '.join(described)}: each fits {interpreter.name} ({theirs.describe()}), runs through a symlink, "
        f"argv[0] believed; zig's makes x86_64's {calls} system calls before its execve"
    )
    return detail, f"{arch.suite}'s {interpreter.name} (ELF check only)"


def zig_stub(arch: Arch, build: Path) -> Path:
    """The wheels' stub for the architecture: CMake and ``zig cc``, as a wheel build makes it (src/stub/zig.cmake)."""
    zig = find_zig()
    cmake = shutil.which("cmake")
    assert cmake is not None, "cmake is missing: apt-get install cmake (.ci/run does)"
    source = PROJECT / "src" / "stub"
    defines = [f"-DSYMLINK_SAFE_ZIG_TARGET={arch.zig}", f"-DSYMLINK_SAFE_ZIG={zig}", "-DCMAKE_BUILD_TYPE=Release"]
    run([cmake, "-S", source, "-B", build, "-G", "Ninja", *defines], capture_output=True)
    run([cmake, "--build", build], capture_output=True)
    report = json.loads((build / "stub-build.json").read_text(encoding="utf-8"))
    got = (report["libc"], report["linkage"], report["compiler"])
    assert got == ("musl", "static", f"zig cc -target {arch.zig}"), f"the wheels' stub is not zig's: {got}"
    return build / "symlink-safe-stub"


def find_zig() -> str:
    """zig as the build finds it: :envvar:`SYMLINK_SAFE_ZIG`, the ``ziglang`` module (tox -e arch installs it), PATH."""
    if found := os.environ.get("SYMLINK_SAFE_ZIG") or shutil.which("zig"):
        return found
    try:
        import ziglang  # type: ignore[import-not-found]  # noqa: PLC0415  # tox -e arch's deps
    except ImportError:
        msg = "no zig: pip install ziglang (tox -e arch does), or set SYMLINK_SAFE_ZIG"
        raise AssertionError(msg) from None
    return str(Path(ziglang.__file__).parent / "zig")


def run_through_symlink(stub: Path, work: Path) -> None:
    """Run the stub (under qemu-user, or natively) through a symlink, the host's python3 its base (rule 1.3)."""
    (stub.parent.parent / "pyvenv.cfg").write_text(
        f"home = /usr/bin\nbase-executable = {os.path.realpath(sys.executable)}\n"
    )
    link = work / "link"
    link.symlink_to(stub)
    env = {"PATH": "/usr/bin:/bin", "SYMLINK_SAFE_TRACE": "1"}
    result = subprocess.run(
        [str(link), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, f"{stub} exited {result.returncode}: {result.stderr.strip()}"
    assert result.stdout.strip() == str(stub.parent.parent), f"{stub} ran in {result.stdout.strip()}"
    # Rule 1.3 as on hardware: argv[0] leads to the running file, so it is believed, not the kernel's record.
    believed = f"invocation path {link}"
    assert believed in result.stderr, f"argv[0] was not believed; the trace:\n{result.stderr}"


#: System calls one ABI names differently from another (``openat`` where x86_64 has ``open``), folded to one name.
FOLDED = {
    "openat": "open",
    "stat64": "stat",
    "statx": "stat",
    "newfstatat": "stat",
    "fstat": "stat",
    "fstat64": "stat",
    "readlinkat": "readlink",
    "faccessat": "access",
    "faccessat2": "access",
    "fcntl64": "fcntl",
}
#: The C library's thread set-up before ``main``, which x86's ABIs make a system call of and others do not.
LIBC_SETUP = frozenset({"arch_prctl", "set_thread_area", "set_tid_address"})


def same_calls_as_x86_64(stub: Path, qemu: str | None, work: Path) -> int:
    """Check that the stub makes the x86_64 wheel stub's system calls before its ``execve``, call for call.

    The emulated stubs cannot be timed here (qemu-user's timings say nothing of hardware); what the stub costs beyond
    the ``execve`` is its system calls and the pages it touches, so the same calls, in the same order, on each
    architecture say that the work timed on x86_64 is the work each architecture does. Started by its path and through
    an outside symlink; read from qemu-user's own ``-strace`` (strace on the host sees the emulator), or ``strace``.

    :returns: how many calls the stub makes through the outside symlink
    """
    theirs = stub_calls(stub, qemu, work)
    ours = x86_64_calls()
    assert theirs == ours, f"the stub's system calls differ from x86_64's: {theirs} against {ours}"
    return len(ours["through an outside symlink"])


@functools.cache
def x86_64_calls() -> dict[str, list[str]]:
    """The system calls of the x86_64 manylinux wheels' stub, the one the benchmark times, built as zig_stub builds."""
    with tempfile.TemporaryDirectory(prefix="arch-x86_64-") as folder:
        work = Path(folder).resolve()
        x86_64 = Arch("x86_64", "amd64", "", "x86_64-linux-gnu", "x86_64-linux-musl", None)
        return stub_calls(zig_stub(x86_64, work / "build"), None, work / "calls")


def stub_calls(stub: Path, qemu: str | None, work: Path) -> dict[str, list[str]]:
    """The stub's system calls up to its ``execve`` of a no-op base, names folded, by how it was started."""
    env = work / "env"
    (env / "bin").mkdir(parents=True)
    shutil.copyfile(stub, env / "bin" / "python")
    (env / "bin" / "python").chmod(0o755)
    (env / "pyvenv.cfg").write_text(f"home = /usr/bin\nbase-executable = {shutil.which('true')}\n")
    (work / "link").symlink_to(env / "bin" / "python")
    calls = {}
    for how, start in (("by its path", env / "bin" / "python"), ("through an outside symlink", work / "link")):
        log = work / "calls.log"
        tracer: list[str | os.PathLike[str]] = (
            [f"qemu-{qemu}-static", "-strace", "-D", log] if qemu else ["strace", "-qq", "-o", log]
        )
        run([*tracer, start, "-c", "pass"], env={"PATH": "/usr/bin:/bin"})
        # qemu: "PID name(args) = result" from the guest's first call; strace: "name(args) = result" from the execve
        # that started the stub, which is not the stub's own
        names = [m.group(1) for m in re.finditer(r"^(?:\d+ )?(\w+)\(", log.read_text(), re.MULTILINE)]
        names = names if qemu else names[1:]
        folded = [FOLDED.get(name, name) for name in names if name not in LIBC_SETUP]
        assert "execve" in folded, f"{stub} started as {start} made no execve: {folded}"
        calls[how] = folded[: folded.index("execve") + 1]
    return calls


def fetch_interpreter(arch: Arch, cache: Path) -> Path:
    """The architecture's real ``python3.X`` from its Debian archive, fetched once, every hash checked."""
    stamp = cache / ".complete"
    if stamp.is_file():
        return cache / stamp.read_text().strip()
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        release = work / "InRelease"
        download(f"{mirror}/dists/{arch.suite}/InRelease", release)
        verified = work / "Release"
        run(["gpgv", "--quiet", "--keyring", KEYRING, "--output", verified, release], capture_output=True)
        index = f"main/binary-{arch.debian}/Packages.xz"
        packages_xz = work / "Packages.xz"
        download(f"{mirror}/dists/{arch.suite}/{index}", packages_xz)
        check_hash(packages_xz, release_hash(verified.read_text(), index))
        packages = parse_packages(lzma.decompress(packages_xz.read_bytes()).decode())
        minimal = " ".join(packages["python3-minimal"].get(key, "") for key in ("Pre-Depends", "Depends"))
        match = re.search(r"python3\.\d+-minimal", minimal)
        assert match is not None, f"python3-minimal depends on {minimal}"
        package = packages[match.group(0)]
        deb = work / "python.deb"
        download(f"{mirror}/{package['Filename']}", deb)
        check_hash(deb, package["SHA256"])
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        run(["dpkg-deb", "-x", deb, cache])
    name = f"usr/bin/{match.group(0).removesuffix('-minimal')}"
    assert (cache / name).is_file(), f"{match.group(0)} holds no {name}"
    stamp.write_text(name + "\n")
    return cache / name


def debian_mirror() -> str:
    """The machine's own Debian mirror, as make-root.sh picks it."""
    if mirror := os.environ.get("SYMLINK_SAFE_DEBIAN_MIRROR"):
        return mirror.rstrip("/")
    sources = [*Path("/etc/apt/sources.list.d").glob("*.sources"), *Path("/etc/apt").glob("sources.list*")]
    for source in sorted(sources):
        if source.is_file():
            for uri in re.findall(r"(?:^URIs:|^deb(?:\s+\[[^]]*\])?)\s+(\S+)", source.read_text(), re.MULTILINE):
                if uri.rstrip("/").endswith("/debian"):
                    return str(uri.rstrip("/"))
    return "http://deb.debian.org/debian"


def download(url: str, target: Path) -> None:
    with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310  # the machine's own apt mirror
        data = response.read()
    target.write_bytes(data)


def release_hash(release: str, name: str) -> str:
    section = release.split("SHA256:", 1)[1]
    for line in section.splitlines()[1:]:
        fields = line.split()
        if not line.startswith(" "):
            break
        if fields[2] == name:
            return fields[0]
    msg = f"{name} is not in the Release file"
    raise AssertionError(msg)


def check_hash(path: Path, expected: str) -> None:
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    assert got == expected, f"{path.name}: sha256 {got}, the archive says {expected}"


def parse_packages(text: str) -> dict[str, dict[str, str]]:
    packages: dict[str, dict[str, str]] = {}
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.MULTILINE))
        if "Package" in fields:
            packages[fields["Package"]] = fields
    return packages


if __name__ == "__main__":
    sys.exit(main())
