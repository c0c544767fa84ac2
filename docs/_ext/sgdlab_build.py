"""How the site is built: gallery scripts in the article's order, seeded, re-run when the
package changes, no page left behind by a deleted script, module pages written afresh.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
from pathlib import Path

import numpy
import torch
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: The article's scripts, in the article's order; a section's other scripts follow by name.
ARTICLE_ORDER = [
    "plot_constructor.py",
    "plot_worked_example.py",
    "plot_param_groups.py",
    "plot_replace_in_param_groups.py",
    "plot_rebinding.py",
    "plot_glossed_over.py",
    "plot_beyond_networks.py",
    "plot_networks.py",
]

#: The gallery's sections in reading order: the article, then the guide's pages in the order of
#: its toctree (``docs/guide/index.md``; ``tests/test_gallery_order.py`` holds them together),
#: then the project's.
GALLERY_SECTIONS = [
    "article", "learning_rate", "momentum", "dampening", "regularisation", "stochastic",
    "landscapes", "recipes", "learning_the_lr", "pitfalls", "performance",
]

#: The guide page each gallery section belongs to.
GUIDE_PAGE_OF_SECTION = {
    "learning_rate": "learning-rate", "momentum": "momentum", "dampening": "dampening",
    "regularisation": "regularisation", "stochastic": "stochastic", "landscapes": "landscapes",
    "recipes": "recipes", "learning_the_lr": "learning-the-lr", "pitfalls": "pitfalls",
}

#: Written in the gallery's folder: the digest of the package source its examples last ran on.
STAMP_NAME = ".sgdlab-source.sha256"


def script_order(filename: str) -> tuple[int, str]:
    """sphinx-gallery sort key: the article's scripts in the article's order, then the rest by name.

    >>> sorted(["plot_b.py", "plot_worked_example.py", "plot_a.py", "plot_constructor.py"], key=script_order)
    ['plot_constructor.py', 'plot_worked_example.py', 'plot_a.py', 'plot_b.py']
    """
    name = Path(filename).name  # a bare name or a full path, depending on the caller
    return (ARTICLE_ORDER.index(name) if name in ARTICLE_ORDER else len(ARTICLE_ORDER), name)


def reset_seeds(gallery_conf, fname):
    """Seed Python, NumPy and torch before each example so builds print the same numbers."""
    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)


def rerun_examples_if_the_package_changed(app) -> None:
    """Have sphinx-gallery re-run every example when the package source changed since the last run.

    On its own, sphinx-gallery re-runs an example only when the example's file changes.
    """
    source_dir, digest = Path(app.config.sgdlab_source_dir), hashlib.sha256()
    for path in sorted(source_dir.rglob("*.py")):  # names and contents
        digest.update(path.relative_to(source_dir).as_posix().encode() + path.read_bytes())
    current = digest.hexdigest()
    stamp = Path(app.srcdir) / app.config.sphinx_gallery_conf["gallery_dirs"] / STAMP_NAME
    if stamp.exists() and stamp.read_text().strip() == current:
        return
    logger.info("sgdlab: the package source changed; every gallery example runs again")
    app.config.sphinx_gallery_conf["run_stale_examples"] = True
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current + "\n")


def remove_orphaned_pages(app) -> None:
    """Delete the generated files of a gallery script that is gone (renamed or removed).

    sphinx-gallery never deletes its output, so a renamed script would leave a page that
    no toctree lists, and that warning fails the build.
    """
    conf = app.config.sphinx_gallery_conf
    examples_dir, gallery_dir = (Path(app.srcdir) / conf[key] for key in ("examples_dirs", "gallery_dirs"))
    for page in gallery_dir.rglob("plot_*.rst"):
        if not (examples_dir / page.parent.relative_to(gallery_dir) / f"{page.stem}.py").exists():
            logger.info("sgdlab: removing the generated page of a deleted example: %s", page)
            for leftover in page.parent.glob(f"{page.stem}.*"):
                leftover.unlink()


def rewrite_module_pages(app) -> None:
    """Drop viewcode's module pages (``_modules``) so that every build writes them again.

    viewcode rewrites a module's page only when the module's file changes, so its footer
    would go on naming an older PyTorch or other devices.
    """
    shutil.rmtree(Path(app.outdir) / "_modules", ignore_errors=True)


def link_source_to_where_documented(app, pagename, templatename, context, doctree):
    """Point each "[docs]" link of viewcode's module pages at where the name is documented.

    viewcode keeps one anchor prefix per module: the module under which it first met one of
    its names (``sgdlab``, for ``sgdlab.sgd``), and prefixes every "[docs]" link of that
    module's page with it. The stages of ``sgdlab.update`` are documented under
    ``sgdlab.update``, so their links would point at ``#sgdlab.direction``, which does not
    exist: such a link is given the prefix the name is documented under.
    """
    if not pagename.startswith("_modules/") or "body" not in context:
        return
    modname = pagename.removeprefix("_modules/").replace("/", ".")
    documented = app.env.get_domain("py").objects

    def documented_anchor(match):
        prefix, name = match.group(2), match.group(3)
        if f"{prefix}.{name}" not in documented and f"{modname}.{name}" in documented:
            return f'{match.group(1)}#{modname}.{name}"'
        return match.group(0)

    context["body"] = re.sub(r'(href="[^"#]*)#([\w.]+)\.(\w+)"', documented_anchor, context["body"])


def setup(app):
    app.add_config_value("sgdlab_source_dir", "", "env")
    # Before sphinx-gallery's own builder-inited handler (priority 500) reads its configuration.
    app.connect("builder-inited", rerun_examples_if_the_package_changed, priority=400)
    app.connect("builder-inited", remove_orphaned_pages, priority=400)
    app.connect("builder-inited", rewrite_module_pages)
    app.connect("html-page-context", link_source_to_where_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
