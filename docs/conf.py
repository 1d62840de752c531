"""Sphinx configuration of mnistmlp's documentation.

Build (from the repository's root, with ``pip install ".[docs]"``)::

    sphinx-build -W --keep-going -n -b html docs build/docs/html      # the site
    sphinx-build -W --keep-going -b doctest docs build/docs/doctest   # run its examples

The build reads nothing from the network: no intersphinx inventories, a theme whose assets
ship in its pip package, and a check (``_ext/offline.py``) that fails the build if a page
would load a script, style sheet or image from another site.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mnistmlp

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

import api_reference  # noqa: E402 - from _ext, just put on the path

project = "mnistmlp"
author = "the mnistmlp authors"
copyright = "the mnistmlp authors"
# One source for the version: pyproject.toml, compiled into the engine (mnistmlp.__version__).
release = mnistmlp.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.doctest",
    "myst_parser",
    "api_reference",
    "cli_reference",
    "offline",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# -- MyST ----------------------------------------------------------------------------------
# Anchors for headings down to ###, so that Markdown links such as benchmarks/README.md's
# "#against-another-build" resolve in the pages that include those files.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# -- autodoc -------------------------------------------------------------------------------
autosummary_generate = True
# _templates/autosummary/module.rst leaves out of each module's page what an earlier module of
# api/index.md documents.
autosummary_context = {"documented_elsewhere": api_reference.documented_elsewhere(),
                       "imported_data": api_reference.imported_data()}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# Parameter types as the docstrings write them ("sequence of int", {"relu", "tanh"}, "optional")
# become literals and references where they name something.
napoleon_preprocess_types = True

# -- references ----------------------------------------------------------------------------
# -n (nitpicky) reports every reference that resolves nowhere. Left as text, each for its reason:
nitpicky = True
nitpick_ignore = [
    # The informal words of NumPy-style parameter types ("sequence of int", "str or optimizer
    # object", "a sequence of them"): prose, not names.
    ("py:class", "sequence"), ("py:class", "a sequence"), ("py:class", "them"), ("py:class", "optimizer object"),
]
nitpick_ignore_regex = [
    # Private modules and names (mnistmlp._spec...): not part of the reference; docstrings name
    # them for contributors.
    (r"py:.*", r"(mnistmlp\.)?(\w+\.)*_[a-z]\w*(\..*)?"),
    # Other projects' names (NumPy's, the optional dependencies', Python's standard library's):
    # linking them needs those projects' intersphinx inventories, fetched from their sites.
    (r"py:.*", r"(numpy|np|matplotlib|pandas|safetensors|joblib|distributed|sklearn|starlette)(\..*)?"),
    (r"py:.*", r"(%s)\..*|Path" % "|".join(sorted(getattr(sys, "stdlib_module_names", ("argparse", "pathlib"))))),
]

# -- doctest -------------------------------------------------------------------------------
# Examples that need MNIST read it from MNISTMLP_DATA (never downloaded); each page's
# examples share one namespace.
doctest_global_setup = """
import os
if not os.environ.get("MNISTMLP_DATA"):
    raise RuntimeError("The documentation's examples train on MNIST, read from the folder MNISTMLP_DATA "
                       "names (nothing is downloaded): set MNISTMLP_DATA to the folder of the four MNIST files.")
"""

# -- HTML ----------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"mnistmlp {release}"
html_static_path: list = []
