"""Project-level checks: the public API, the README commands and CI agree."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import wtal_blocks
from tests.conftest import REPO_ROOT


def _readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", quick, flags=re.S)]


def test_readme_has_exactly_two_quick_start_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    assert "pytest" in commands[1] and ".[test]" in commands[1]
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci, "the README test command must appear verbatim in .ci/run"


def test_every_public_name_resolves_and_is_in_the_static_view() -> None:
    for name in wtal_blocks.__all__:
        assert getattr(wtal_blocks, name) is not None, name
    tree = ast.parse((REPO_ROOT / "wtal_blocks" / "__init__.py").read_text())
    static: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                static |= {a.asname or a.name for a in imp.names}
    assert static == set(wtal_blocks.__all__) - {"__version__"}


def test_import_is_lazy() -> None:
    code = "import sys, wtal_blocks; assert 'torch' not in sys.modules, 'torch imported eagerly'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_quick_tour_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "wtal_blocks"],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    ).stdout
    assert "action_k=83 background_k=187" in out and "loss_total=" in out
