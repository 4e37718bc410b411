"""Sphinx configuration of the flask-okta-hooks documentation."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE / "_ext"), str(HERE.parent)]

import flask_okta_hooks  # noqa: E402

project = "flask-okta-hooks"
author = "flask-okta-hooks developers"
copyright = "flask-okta-hooks developers"
release = version = flask_okta_hooks.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "okta_hooks_tables",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = f"flask-okta-hooks {release}"
