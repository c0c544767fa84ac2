"""Sphinx configuration for sgdlab (confdir = repository root, srcdir = docs/)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# Local extensions: the gallery's per-example reset and the stale-output guard.
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import sgdlab  # noqa: E402  (the version shown comes from the installed package)
import torch  # noqa: E402
from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

project = "sgdlab"
author = "the sgdlab team"
copyright = "2026, the sgdlab team"
release = sgdlab.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.doctest",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sgdlab_sphinx",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/**.codeobj.json"]
templates_path = ["docs/_templates"]  # relative to this file
html_static_path = ["docs/_static"]
html_css_files = ["sgdlab.css"]

# -- MyST ---------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- autodoc / napoleon --------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = True

# -- doctest: pages are checked on CPU float32, as torch prints by default ---
# Docstring examples are run by pytest (--doctest-modules); here only {doctest} blocks run.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import torch
import sgdlab
torch.manual_seed(0)
"""
doctest_default_flags = (
    __import__("doctest").ELLIPSIS
    | __import__("doctest").NORMALIZE_WHITESPACE
    | __import__("doctest").DONT_ACCEPT_TRUE_FOR_1
)

# -- sphinx-gallery -------------------------------------------------------------
# Gallery sections in reading order. Only folders that exist are listed, and "*" puts any
# section not named here at the end, so adding or removing a folder never breaks the build.
GALLERY_SECTIONS = [
    "article", "momentum", "dampening", "learning_rate", "regularisation",
    "landscapes", "recipes", "pitfalls", "performance",
]
sphinx_gallery_conf = {
    "examples_dirs": "../examples",  # relative to docs/
    "gallery_dirs": "auto_examples",
    "subsection_order": ExplicitOrder(
        [f"../examples/{name}" for name in GALLERY_SECTIONS if (ROOT / "examples" / name).is_dir()]
        + ["*"]
    ),
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    # Fresh matplotlib state and fixed seeds before every example.
    "reset_modules": ("matplotlib", "sgdlab_sphinx.reset_seeds"),
    "reset_modules_order": "before",
    "download_all_examples": True,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
}
# Rerun every example when the package's source changes (sphinx-gallery alone
# only watches each example's own file).
sgdlab_source_dir = str(ROOT / "src" / "sgdlab")

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sgdlab {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"torch_version": torch.__version__}

# -- copybutton: copy code, not prompts or output --------------------------------
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
