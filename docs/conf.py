"""Sphinx configuration of the wtal_blocks documentation.

Build (warnings are errors, as in CI)::

    pip install ".[docs]"
    sphinx-build -W --keep-going -b html docs docs/_build/html

Narrative pages are Markdown (MyST), the API reference is reStructuredText with autodoc; the
Google-style docstrings (``Args:``, ``Returns:``, ``Shape:``) are read by napoleon.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # document the checkout, installed or not
os.environ.setdefault("MPLBACKEND", "Agg")

import wtal_blocks  # noqa: E402

project = "wtal_blocks"
author = "wtal_blocks developers"
copyright = "wtal_blocks developers"
release = version = wtal_blocks.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# -- MyST (Markdown) ---------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon ------------------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False  # nn.Module.forward's generic text is not our documentation
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # "Attributes:" as fields: no duplicate entries next to autodoc's
napoleon_use_rtype = False
napoleon_custom_sections = ["Shape", "Call"]  # rendered as titled blocks, content as written

# -- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"wtal_blocks {release}"
html_static_path = ["_static"]
