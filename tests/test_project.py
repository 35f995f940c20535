"""Project-level checks: the public API, the README commands and CI agree."""

from __future__ import annotations

import ast
import glob
import re
import subprocess
import sys
from pathlib import Path

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


# ----------------------------------------------------------------------------- architecture

PACKAGE = REPO_ROOT / "wtal_blocks"

# Layers from the bottom up; a module may import only its own layer and the ones below.
LAYERS: dict[str, int] = {
    "evaluation": 0,  # numpy only
    "_validation": 0,
    "kernels": 0,
    "_piecewise": 0,
    "segments": 1,
    "layers": 1,
    "data": 1,
    "pooling": 2,
    "uncertainty": 2,
    "nms": 2,
    "snippets": 3,
    "losses": 3,
    "proposals": 3,
    "attention": 3,
    "actionness": 3,
    "models": 4,
    "inference": 5,
    "recipes": 6,
    "viz": 7,
    "cli": 8,
}
TOP = {"__init__", "__main__"}


def _component(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def _imported_components(path: Path) -> set[str]:
    """The package components a module imports, anywhere in it (lazily in functions too)."""
    depth = len(path.relative_to(PACKAGE).parts) - 1  # folders below wtal_blocks
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                parts = (node.module or "").split(".")
                if parts[0] == "wtal_blocks" and len(parts) > 1:
                    found.add(parts[1])
                continue
            up = node.level - 1  # levels above the module's own folder
            base = list(path.relative_to(PACKAGE).parts[:depth])
            base = base[: len(base) - up] if up else base
            target = base + (node.module.split(".") if node.module else [])
            if target:
                found.add(target[0])
            else:  # "from .. import x": x are components
                found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "wtal_blocks" and len(parts) > 1:
                    found.add(parts[1])
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value).lstrip(".").split(".")[0])
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_component_has_a_layer() -> None:
    components = {_component(p) for p in _modules()} - TOP
    assert components <= set(LAYERS), sorted(components - set(LAYERS))


def test_imports_flow_one_way() -> None:
    """No module imports a higher layer, not even lazily; ``evaluation`` imports no other part."""
    bad = []
    for path in _modules():
        own = _component(path)
        if own in TOP:
            continue
        for target in _imported_components(path) - {own}:
            if target in LAYERS and LAYERS[target] >= LAYERS[own] and target != own:
                if LAYERS[target] > LAYERS[own] or own == "evaluation":
                    bad.append(f"{path.relative_to(REPO_ROOT)} imports {target}")
    assert not bad, bad


def test_no_module_over_600_lines() -> None:
    long = [
        f"{p.relative_to(REPO_ROOT)} ({n} lines)"
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > 600
    ]
    assert not long, long


_CLIMB = re.compile(r"(?:\.\./)+[\w.-]+(?:/[\w.-]+)*")  # a path that goes up
_MARKDOWN = re.compile(r"(?<![\w.-])[\w-]+\.md\b")  # a Markdown page named in the text


def _outside_references(text: str, where: Path, pages: set[str]) -> list[str]:
    """Upward paths in ``text`` (a file in folder ``where``) that name nothing of the repository,
    read from that folder or from the root, and Markdown pages that no file of it is."""

    def held(ref: str, base: Path) -> bool:
        target = (base / ref).resolve()  # a Sphinx document is named without its suffix
        exists = target.exists() or any(target.parent.glob(f"{glob.escape(target.name)}.*"))
        return target.is_relative_to(REPO_ROOT) and exists

    found = [
        ref
        for ref in (m.group(0) for m in _CLIMB.finditer(text))
        if not (held(ref, where) or held(ref, REPO_ROOT))
    ]
    found += [m.group(0) for m in _MARKDOWN.finditer(text) if m.group(0) not in pages]
    return found


def test_nothing_refers_to_paths_outside_the_repository() -> None:
    pages = {p.name for p in REPO_ROOT.rglob("*.md") if ".git" not in p.parts}
    # the check finds what it is for: a climb out of the repository and a page it does not hold
    # (written in pieces, so that this file does not itself name such a path)
    up, page = "../", "behaviour-notes" + ".md"
    planted = f"see {up}elsewhere/notes/{page} and {up}{up}x"
    assert _outside_references(planted, REPO_ROOT / "docs", pages) == [
        f"{up}elsewhere/notes/{page}",
        f"{up}{up}x",
        page,
    ]
    hits = []
    files = [REPO_ROOT / "README.md"]
    for folder in ("wtal_blocks", "docs", "tests", "benchmarks"):
        files += [
            path
            for path in (REPO_ROOT / folder).rglob("*")
            if path.suffix in (".py", ".md", ".rst", ".txt", ".sh") and "_build" not in path.parts
        ]
    for path in files:
        for ref in _outside_references(path.read_text(errors="replace"), path.parent, pages):
            hits.append(f"{path.relative_to(REPO_ROOT)}: {ref}")
    assert not hits, hits


def test_evaluation_imports_without_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import wtal_blocks.evaluation, wtal_blocks.cli.eval\n"
        "assert 'torch' not in {m for m, v in sys.modules.items() if v is not None}"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT)


def test_exported_names_are_never_shadowed_by_submodules() -> None:
    """Importing a submodule sets it as an attribute of its package; an exported name equal to
    a submodule's name would then resolve to the module (``recipes.train`` did once)."""
    import importlib
    import pkgutil
    import types

    import wtal_blocks

    for info in pkgutil.walk_packages(wtal_blocks.__path__, "wtal_blocks."):
        if ".kernels." in info.name:  # the Triton kernels import triton, an optional extra
            continue
        importlib.import_module(info.name)
    for package in (
        "wtal_blocks",
        "wtal_blocks.recipes",
        "wtal_blocks.evaluation",
        "wtal_blocks.nms",
    ):
        module = importlib.import_module(package)
        for name in module.__all__:
            assert not isinstance(getattr(module, name), types.ModuleType), f"{package}.{name}"
