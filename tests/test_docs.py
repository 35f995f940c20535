"""The documentation cannot rot: its examples run, its outputs are what the code prints, its
command lines parse, and the API reference covers every public name.

* Every ```` ```python ```` block of a page runs, in page order and in one namespace, in a
  temporary working directory. Pages whose examples read files a reader would already have
  (a dataset in the official layout, a checkpoint, finished runs) get tiny stand-ins from
  :data:`FIXTURES` first.
* A ```` ```text ```` block right after a Python block is that block's printed output, compared
  exactly.
* Every ``wtal-um`` / ``wtal-eval`` / ``torchrun ... -m wtal_blocks...`` line of a shell block is
  parsed by the real argument parser.
* Every name of ``wtal_blocks.__all__`` has an autodoc directive in ``docs/api/*.rst``.

No Sphinx is needed; CI builds the site separately with warnings as errors.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import wtal_blocks
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```\s*$", re.S | re.M)


@dataclass(frozen=True)
class Block:
    lang: str
    code: str
    line: int
    output: str | None = None  # the ```text block that follows a python block


def _blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = [(m.group(1), m.group(2), m.start(), m.end()) for m in FENCE.finditer(text)]
    blocks: list[Block] = []
    for i, (lang, code, start, _) in enumerate(found):
        follows_python = (
            i > 0 and found[i - 1][0] == "python" and not text[found[i - 1][3] : start].strip()
        )
        if lang == "text" and follows_python:
            blocks[-1] = Block("python", blocks[-1].code, blocks[-1].line, code)
            continue
        blocks.append(Block(lang, code, text.count("\n", 0, start) + 2))
    return blocks


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)


# ---------------------------------------------------------------------------------------
# what the pages assume the reader already has


def _thumos_layout(root: Path) -> None:
    """``data/thumos14``: a tiny dataset in the official layout (8-d streams, so F = 16)."""
    from tests.helpers import write_thumos_layout

    lengths = {
        **{f"train_{i}": 40 for i in range(4)},
        **{f"test_{i}": 30 + 4 * i for i in range(3)},
    }
    (root / "data" / "thumos14").mkdir(parents=True)
    write_thumos_layout(root / "data" / "thumos14", lengths, instances=True)


def _official_checkpoint(root: Path) -> None:
    """``data/thumos14`` and ``um_official_thumos14.pkl``: an official-format state_dict for it."""
    import torch

    _thumos_layout(root)
    torch.manual_seed(0)
    torch.save(
        wtal_blocks.UncertaintyModelingNet(16, 20).state_dict(), root / "um_official_thumos14.pkl"
    )


def _finished_seed_runs(root: Path) -> None:
    """``runs/um/seed_{0,1,2}/metrics.json`` as ``wtal-um train --seeds 0 1 2`` leaves them."""
    for seed, shift in ((0, 0.0), (1, 0.012), (2, -0.008)):
        out = root / "runs" / "um" / f"seed_{seed}"
        out.mkdir(parents=True)
        m_ap = [round(v + shift, 4) for v in (0.672, 0.611, 0.523, 0.434, 0.337, 0.229, 0.121)]
        metrics = {
            "step": 10000, "tiou_thresholds": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], "mAP": m_ap,
            "average_mAP": sum(m_ap) / 7, "accuracy": 0.7, "ap": {}, "model": "final", "seed": seed,
        }  # fmt: skip
        (out / "metrics.json").write_text(json.dumps(metrics))


FIXTURES: dict[str, Callable[[Path], None]] = {
    "howto/reproduce-checkpoint.md": _official_checkpoint,
    "howto/train.md": _thumos_layout,
    "howto/multi-seed.md": _finished_seed_runs,
}


# ---------------------------------------------------------------------------------------
# the examples run and print what the page shows


PYTHON_PAGES = [p for p in _pages() if any(b.lang == "python" for b in _blocks(p))]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_python_examples_run_and_print_what_the_page_shows(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocks = [b for b in _blocks(page) if b.lang == "python"]
    if any("wtal_blocks.viz" in b.code for b in blocks):
        pytest.importorskip("matplotlib", reason="the viz extra (matplotlib) is not installed")
    name = str(page.relative_to(DOCS))
    monkeypatch.chdir(tmp_path)
    if name in FIXTURES:
        FIXTURES[name](tmp_path)
    # a page may register a method: the registry is restored afterwards
    from wtal_blocks.recipes import methods

    methods._load_builtin()
    monkeypatch.setattr(methods, "_REGISTRY", dict(methods._REGISTRY))
    # a real module, so that classes defined on a page (dataclasses) can find their namespace
    module = types.ModuleType("__docs__")
    monkeypatch.setitem(sys.modules, "__docs__", module)
    namespace = module.__dict__
    for block in blocks:
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(block.code, f"{name}:{block.line}", "exec"), namespace)
        if block.output is not None:
            assert stdout.getvalue() == block.output, (
                f"{name}:{block.line}: the printed output differs from the page"
            )


def test_readme_example_runs_and_prints_what_it_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = REPO_ROOT / "README.md"
    blocks = [b for b in _blocks(readme) if b.lang == "python"]
    assert blocks, "the README shows the blocks in a Python example"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for block in blocks:
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(compile(block.code, f"README.md:{block.line}", "exec"), namespace)
        assert block.output is not None and stdout.getvalue() == block.output


def test_every_page_with_python_is_exercised() -> None:
    assert {str(p.relative_to(DOCS)) for p in PYTHON_PAGES} >= {
        "getting-started.md",
        "concepts.md",
        "howto/own-model.md",
        "howto/evaluate-results.md",
        "howto/reproduce-checkpoint.md",
        "howto/train.md",
        "howto/multi-seed.md",
        "howto/plots.md",
        "evaluation-protocols.md",
    }
    assert set(FIXTURES) <= {str(p.relative_to(DOCS)) for p in PYTHON_PAGES}


def test_getting_started_shows_the_quick_start_commands_of_the_readme() -> None:
    from tests.test_project import _readme_commands

    page = DOCS / "getting-started.md"
    shell = [b.code.strip() for b in _blocks(page) if b.lang == "bash"]
    assert shell[:2] == _readme_commands()
    # the page's demo output follows the demo's schedule: evaluations and the final step
    from wtal_blocks.recipes.demo import demo_config

    first_output = next(b.code for b in _blocks(page) if b.lang == "text")
    cfg = demo_config("unused")
    steps = [
        int(line.split()[3].rstrip(":"))
        for line in first_output.splitlines()
        if line.startswith("eval @ step")
    ]
    assert steps == list(range(cfg.eval_every, cfg.iterations + 1, cfg.eval_every))
    assert f"FINAL model (step {cfg.iterations})" in first_output


# ---------------------------------------------------------------------------------------
# the command lines parse


def _command_lines(page: Path) -> list[tuple[int, list[str]]]:
    out = []
    for block in _blocks(page):
        if block.lang not in ("bash", "console", "shell"):
            continue
        text = block.code.replace("\\\n", " ")
        for k, line in enumerate(text.splitlines()):
            line = line.split(" #", 1)[0].strip().removeprefix("$ ")
            for part in line.split("&&"):
                words = shlex.split(part)
                if words:
                    out.append((block.line + k, words))
    return out


def _parse(words: list[str]) -> bool:
    """Parse a documented command with the real parser; False when it is not one of ours."""
    from wtal_blocks.cli import convert, um, wtal
    from wtal_blocks.cli import eval as wtal_eval

    def wtal_parse(argv: list[str]) -> object:
        return wtal.build_parser(wtal._method_of_argv(argv)).parse_args(argv)

    parsers: dict[str, Callable[[list[str]], object]] = {
        "wtal": wtal_parse,
        "wtal-um": lambda argv: um.build_parser().parse_args(argv),
        "wtal-eval": lambda argv: wtal_eval.build_parser().parse_args(argv),
        "wtal-convert": lambda argv: convert.build_parser().parse_args(argv),
    }
    for name in list(parsers):
        module = {"wtal": "wtal", "wtal-um": "um", "wtal-eval": "eval", "wtal-convert": "convert"}
        parsers[f"wtal_blocks.cli.{module[name]}"] = parsers[name]
    if words[0] in parsers:
        parsers[words[0]](words[1:])
        return True
    if words[0] in ("torchrun", "python") and "-m" in words:
        i = words.index("-m")
        if words[i + 1] in parsers:
            parsers[words[i + 1]](words[i + 2 :])
            return True
    return False


def test_documented_command_lines_parse() -> None:
    parsed = 0
    for page in _pages():
        for line, words in _command_lines(page):
            try:
                parsed += _parse(words)
            except SystemExit as exc:  # argparse refused it
                raise AssertionError(
                    f"{page.relative_to(DOCS)}:{line}: {' '.join(words)!r} does not parse"
                ) from exc
    assert parsed >= 10


# ---------------------------------------------------------------------------------------
# the API reference covers the public API


DIRECTIVE = re.compile(
    r"^\.\. (?:auto(?:function|class|data|exception|module)|py:data)::\s+(\S+)", re.M
)
CURRENT = re.compile(r"^\.\. currentmodule::\s+(\S+)", re.M)


def _documented() -> set[str]:
    names: set[str] = set()
    for page in sorted((DOCS / "api").glob("*.rst")):
        text = page.read_text()
        events = sorted(
            [(m.start(), "module", m.group(1)) for m in CURRENT.finditer(text)]
            + [(m.start(), "object", m.group(1)) for m in DIRECTIVE.finditer(text)]
        )
        module = ""
        for _, kind, value in events:
            if kind == "module":
                module = value
            else:
                names.add(value if value.startswith("wtal_blocks") else f"{module}.{value}")
    return names


def test_api_reference_documents_every_public_name() -> None:
    documented = _documented()
    missing = sorted(n for n in wtal_blocks.__all__ if f"wtal_blocks.{n}" not in documented)
    assert not missing, f"public names without an autodoc entry in docs/api: {missing}"


def test_api_reference_documents_the_viz_module() -> None:
    pytest.importorskip("matplotlib", reason="the viz extra (matplotlib) is not installed")
    import wtal_blocks.viz as viz

    documented = _documented()
    missing = sorted(n for n in viz.__all__ if f"wtal_blocks.viz.{n}" not in documented)
    assert not missing, f"wtal_blocks.viz names without an autodoc entry: {missing}"


# ---------------------------------------------------------------------------------------
# the docstring examples run


def test_docstring_examples_run() -> None:
    """Every ``>>>`` example in the package's docstrings runs and prints what it shows."""
    import doctest
    import importlib
    import pkgutil

    import numpy as np

    attempted = 0
    failures: list[str] = []
    for info in pkgutil.walk_packages(wtal_blocks.__path__, "wtal_blocks."):
        if info.name.endswith(("_triton", "__main__")) or ".viz" in info.name:
            continue  # kernels need a GPU or the interpreter; viz has no examples
        module = importlib.import_module(info.name)
        finder = doctest.DocTestFinder(exclude_empty=True)
        runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
        with np.printoptions(legacy=False):
            for test in finder.find(module, module.__name__):
                if test.examples:
                    result = runner.run(test, out=failures.append)
                    attempted += result.attempted
    assert not failures, "".join(failures)
    assert attempted >= 5, f"only {attempted} docstring examples found"
