"""Sphinx configuration for sgdlab (confdir = repository root, srcdir = docs/)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent
# Local extensions: how the gallery is built, how figures are shown, the measurement records.
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
# The repository's tools: the one output comparer and the rounding noise (sgdlab_doctest).
sys.path.insert(0, str(ROOT / "tools"))

import sgdlab  # noqa: E402  (the version shown comes from the installed package)
import sgdlab_build  # noqa: E402  (the gallery's order)
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
    "sgdlab_doctest",  # +TOLERANT outputs go through the one comparer; SGDLAB_ROUNDING_NOISE
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # serves MathJax from _static, so maths renders with no network
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sgdlab_build",  # gallery order, seeds, re-runs when src/sgdlab changes, no orphan pages
    "sgdlab_records",  # the parity and benchmark records, rendered from their JSON
    "matplotlib.sphinxext.plot_directive",  # the benchmark's plot, drawn at build time
    "sgdlab_figures",  # figures that open full size, shown on the pages that explain them
    "sgdlab_explorers",  # interactive figures: a script's grid of runs, drawn with controls
    "notfound.extension",  # the 404 page, with links that work at any depth
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = [
    "_build",
    "_data",  # fragments written by the tools, included by the pages that show them
    "**.ipynb_checkpoints",
    "auto_examples/**.codeobj.json",
    # Timing tables need jQuery and DataTables from CDNs; not pages for readers (see below).
    "sg_execution_times.rst",
    "auto_examples/**sg_execution_times.rst",
]
templates_path = ["docs/_templates"]  # relative to this file
html_static_path = ["docs/_static"]
html_css_files = ["sgdlab.css"]
html_js_files = ["sgdlab.js"]
# Every cross-reference must resolve: an unknown name is a warning, so a failure.
nitpicky = True

# -- MyST ---------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_heading_anchors = 3
# Pages write {{ torch_version }} for the PyTorch the site was built with.


def source_url(distribution: str = "sgdlab") -> str:
    """The package metadata's "Source" URL (pyproject.toml's [project.urls])."""
    from importlib.metadata import metadata

    for entry in metadata(distribution).get_all("Project-URL") or []:
        label, _, url = entry.partition(", ")
        if label == "Source":
            return url
    raise RuntimeError(f"{distribution}'s metadata names no Source URL")


# Where the source lives (set SGDLAB_REPOSITORY_URL when the site is published from a fork).
repository_url = os.environ.get("SGDLAB_REPOSITORY_URL") or source_url()
myst_substitutions = {
    "torch_version": torch.__version__,
    # Substitutions do not reach into link targets or code blocks: these carry the URL there.
    "repository_link": f"[repository]({repository_url})",
    "install_from_clone": f"```console\n$ git clone {repository_url}\n$ cd sgdlab\n$ pip install -e .\n```",
}

# -- autodoc / napoleon --------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = True

# -- intersphinx: links into PyTorch's, Python's, NumPy's and Matplotlib's docs, offline ------
# The inventories are written by `make inventories` (tools/make_inventories.py), not downloaded.
INVENTORIES = ROOT / "docs" / "_inventories"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3/", str(INVENTORIES / "python.inv")),
    "torch": ("https://docs.pytorch.org/docs/stable/", str(INVENTORIES / "torch.inv")),
    "numpy": ("https://numpy.org/doc/stable/", str(INVENTORIES / "numpy.inv")),
    "matplotlib": ("https://matplotlib.org/stable/", str(INVENTORIES / "matplotlib.inv")),
}
# They list Python objects only: a {doc} or {ref} of ours must never land in another project.
intersphinx_disabled_reftypes = ["std:*"]

# -- doctest: pages are checked on CPU float32, as torch prints by default ---
# Docstring examples are run by pytest (--doctest-modules); here only {doctest} blocks run.
doctest_test_doctest_blocks = ""
doctest_global_setup = """
import os
import torch
import sgdlab
torch.manual_seed(0)
# A block about this machine's own rounding says `:skipif: ROUNDING_NOISE`.
ROUNDING_NOISE = bool(os.environ.get("SGDLAB_ROUNDING_NOISE"))
"""
doctest_default_flags = (
    __import__("doctest").ELLIPSIS
    | __import__("doctest").NORMALIZE_WHITESPACE
    | __import__("doctest").DONT_ACCEPT_TRUE_FOR_1
)

# -- sphinx-gallery -------------------------------------------------------------
# Gallery sections in reading order (the guide's). Only folders that exist are listed, and "*"
# puts any section not named here at the end, so adding or removing a folder never breaks the build.
GALLERY_SECTIONS = sgdlab_build.GALLERY_SECTIONS
sphinx_gallery_conf = {
    "examples_dirs": "../examples",  # relative to docs/
    "gallery_dirs": "auto_examples",
    "subsection_order": ExplicitOrder(
        [f"../examples/{name}" for name in GALLERY_SECTIONS if (ROOT / "examples" / name).is_dir()]
        + ["*"]
    ),
    "filename_pattern": r"/plot_",
    # matplotlib's scraper, recording each figure's smallest text for the site tests.
    "image_scrapers": ("sgdlab_figures.scrape_with_text_sizes",),
    "within_subsection_order": "sgdlab_build.script_order",  # the article's scripts in its order
    # Fresh matplotlib state and fixed seeds before every example.
    "reset_modules": ("matplotlib", "sgdlab_build.reset_seeds"),
    "reset_modules_order": "before",
    # Two examples at a time, one per core (joblib's worker processes; each resets as above).
    # A script that times itself says `# sphinx_gallery_parallel = False` and runs alone.
    "parallel": 2,
    "download_all_examples": True,
    # No sg_execution_times pages: each example page still says how long it ran.
    "write_computation_times": False,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
    # Names in the code cells link to their docs: sgdlab's here, torch's through intersphinx.
    "doc_module": ("sgdlab",),
    # Figures are served at twice their size too, so they stay sharp on high-density screens
    # and when a reader clicks one open (docs/_ext/sgdlab_figures.py links each to its 2x file).
    "image_srcset": ["2x"],
    # Notebooks get Markdown text cells (pandoc converts the reST), without pandoc's
    # attribute syntax that a notebook would show as text.
    "pypandoc": {"extra_args": ["--to=markdown-inline_code_attributes-fenced_code_attributes", "--wrap=none"]},
}
# Rerun every example when the package's source changes (sphinx-gallery alone
# only watches each example's own file).
sgdlab_source_dir = str(ROOT / "src" / "sgdlab")

# -- plot directive (the performance page's figure) ------------------------------
plot_formats = [("png", 100)]
plot_html_show_formats = False
plot_html_show_source_link = False

# -- HTML -----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sgdlab {release}"
html_favicon = "docs/_static/favicon.svg"
html_theme_options = {
    "navigation_with_keys": False,
    # Reader sections (article, guide, gallery, API) and "Project" all fit in the top bar.
    "header_links_before_dropdown": 7,
    "icon_links": [
        {"name": "Source repository", "url": repository_url, "icon": "fa-brands fa-github", "type": "fontawesome"},
    ],
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_center": ["build-info"],
    "footer_end": ["sphinx-version"],
}
# Pages with no section around them get no left sidebar (it would be an empty
# "Section Navigation"); the others keep the theme's.
html_sidebars = {
    "index": [],
    "notation": [],
    "api": [],
    "install": [],
    "from-scratch": [],
    "404": [],
    "search": [],
}
# What built the site, shown in every page's footer (docs/_templates/build-info.html).
html_context = {
    # Follow the reader's light or dark preference (unset, the theme logs an error on a first visit).
    "default_mode": "auto",
    "torch_version": torch.__version__,
    "sgdlab_version": release,
    "build_devices": ", ".join(str(device) for device in sgdlab.devices()),
}
# Where the site is served (set by the hosting workflows).
html_baseurl = os.environ.get("SGDLAB_BASEURL") or os.environ.get("READTHEDOCS_CANONICAL_URL", "")

# -- the 404 page (sphinx-notfound-page) ------------------------------------------
# It is served at any depth, so its links and resources start from the site's path.
notfound_urls_prefix = urlsplit(html_baseurl).path.rstrip("/") + "/"
notfound_context = {
    "title": "Page not found",
    "body": f"""<h1>Page not found</h1>
<p>There is no page at this address. It may have moved when the site was reorganised, or the
link that brought you here has a typo.</p>
<ul>
<li>Start again from the <a href="{notfound_urls_prefix}index.html">home page</a>.</li>
<li>Browse the <a href="{notfound_urls_prefix}auto_examples/index.html">gallery</a> of runnable examples.</li>
<li>Look a name up in the <a href="{notfound_urls_prefix}api.html">API reference</a>, or use the search box above.</li>
</ul>
""",
}

# -- copybutton: copy code, not prompts or output --------------------------------
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
