"""``virtualenv-symlink-safe explain`` tells the stub's own decision (contract rule 7.2), never its trace's prose.

The stub and plain cases, their statuses and the failure line are pinned with the other command tests in
``test_convert.py``; these add what only the decision carries.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from conftest import Runner, Target


def explain(runner: Runner, *args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return runner.run([sys.executable, "-m", "virtualenv_symlink_safe", "explain", *map(str, args)], env=env)


@pytest.mark.contract("rule 7.2", "rule 2.2")
def test_explain_names_the_physical_check_for_a_symlinked_folder(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    (work / "tools").symlink_to(venv.bin)
    result = explain(runner, work / "tools" / "python")
    assert result.returncode == 0, result.stderr
    assert f"runs in the environment {venv.path}" in result.stdout
    assert f"found {venv.cfg} in the resolved folder of that path (the physical check" in result.stdout
    assert f"argv[0] becomes {venv.python}" in result.stdout


@pytest.mark.contract("rule 7.2")
def test_explain_verbose_shows_the_decision_step_by_step(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    (work / "link").symlink_to(venv.python)
    result = explain(runner, "-v", work / "link")
    assert result.returncode == 0, result.stderr
    detail = [line for line in result.stdout.splitlines() if line.startswith("decision: ")]
    assert detail[:3] == [
        f"decision: invoked {work / 'link'}",
        f"decision: walk {work / 'link'}",
        f"decision: walk {venv.python}",
    ]
    assert f"decision: lexical check found {venv.cfg}; argv[0] becomes {venv.python}" in detail
    assert detail[-1] == "decision: status 0"


@pytest.mark.contract("rule 7.2")
def test_explain_does_not_read_the_trace(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    (work / "link").symlink_to(venv.python)
    quiet = explain(runner, "-v", work / "link")
    traced = explain(runner, "-v", work / "link", env={**runner.environ, "SYMLINK_SAFE_TRACE": "1"})
    assert traced.returncode == quiet.returncode == 0, traced.stderr
    assert traced.stdout == quiet.stdout
    assert "trace" not in traced.stdout + traced.stderr


@pytest.mark.contract("rule 7.2", "rule 3.3")
def test_explain_tells_a_stub_met_as_a_base(runner: Runner, target: Target, work: Path) -> None:
    inner = runner.create(target, work / "inner")
    outer = runner.create(target, work / "outer")
    text = outer.cfg.read_text()
    outer.cfg.write_text(f"base-executable = {inner.python}\n{text}")
    result = explain(runner, outer.python)
    assert result.returncode == 0, result.stderr
    assert f"That base is itself a stub, so the stub went on to its own environment: {inner.python}." in result.stdout
    assert "comes from 'base-executable' in the last pyvenv.cfg." in result.stdout
