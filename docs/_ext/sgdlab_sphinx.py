"""Local Sphinx glue for sgdlab: gallery seeds and the stale-output guard."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Stamp file written in each gallery output dir: the hash of the package's source.
STAMP_NAME = ".sgdlab-source.sha256"


#: Scripts a section shows in a set order (the article's), before any others by file name.
SCRIPT_ORDER = {
    "article": [
        "plot_constructor.py",
        "plot_worked_example.py",
        "plot_param_groups.py",
        "plot_replace_in_param_groups.py",
        "plot_rebinding.py",
        "plot_glossed_over.py",
        "plot_beyond_networks.py",
        "plot_networks.py",
    ],
}


class ScriptOrder:
    """sphinx-gallery sort key: a section's listed scripts first, in order, then the rest by name."""

    def __init__(self, src_dir):
        self.order = SCRIPT_ORDER.get(Path(src_dir).name, [])

    def __call__(self, filename):
        if filename in self.order:
            return (self.order.index(filename), filename)
        return (len(self.order), filename)

    def __repr__(self):  # stable, so Sphinx does not see a changed configuration on every build
        return f"<{type(self).__name__}>"


def reset_seeds(gallery_conf, fname):
    """Seed Python, NumPy and torch before each example so builds print the same numbers."""
    import numpy
    import torch

    random.seed(0)
    numpy.random.seed(0)
    torch.manual_seed(0)


def source_digest(source_dir: Path) -> str:
    """Hash every ``.py`` file under ``source_dir`` (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(source_dir.rglob("*.py")):
        digest.update(path.relative_to(source_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def expire_stale_examples(app) -> None:
    """Drop sphinx-gallery's cached checksums when the package source has changed."""
    source_dir = Path(app.config.sgdlab_source_dir)
    if not source_dir.is_dir():
        return
    current = source_digest(source_dir)
    for gallery_dir in map(Path, _as_list(app.config.sphinx_gallery_conf.get("gallery_dirs"))):
        gallery_dir = gallery_dir if gallery_dir.is_absolute() else Path(app.srcdir) / gallery_dir
        stamp = gallery_dir / STAMP_NAME
        if stamp.exists() and stamp.read_text().strip() == current:
            continue
        expired = list(gallery_dir.rglob("*.py.md5"))
        for checksum in expired:
            checksum.unlink()
        if expired:
            logger.info(
                "sgdlab: package source changed; %d gallery example(s) will re-run", len(expired)
            )
        gallery_dir.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current + "\n")


def remove_orphaned_pages(app) -> None:
    """Delete generated gallery files whose script is gone (renamed or removed).

    sphinx-gallery never deletes its output, so a renamed script would leave a page that
    no toctree lists, and that warning fails the build.
    """
    conf = app.config.sphinx_gallery_conf
    pairs = zip(_as_list(conf.get("examples_dirs")), _as_list(conf.get("gallery_dirs")))
    for examples_dir, gallery_dir in pairs:
        examples_dir, gallery_dir = (Path(app.srcdir) / d for d in (examples_dir, gallery_dir))
        for page in gallery_dir.rglob("plot_*.rst"):
            section = page.parent.relative_to(gallery_dir)
            if (examples_dir / section / f"{page.stem}.py").exists():
                continue
            logger.info("sgdlab: removing the generated page of a deleted example: %s", page)
            for leftover in page.parent.glob(f"{page.stem}.*"):
                leftover.unlink()


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value or [])


def setup(app):
    app.add_config_value("sgdlab_source_dir", "", "env")
    # Before sphinx-gallery's own builder-inited handler (priority 500) reads the checksums.
    app.connect("builder-inited", expire_stale_examples, priority=400)
    app.connect("builder-inited", remove_orphaned_pages, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
