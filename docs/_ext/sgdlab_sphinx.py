"""Local Sphinx glue for sgdlab: gallery seeds and the stale-output guard."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Stamp file written in each gallery output dir: the hash of the package's source.
STAMP_NAME = ".sgdlab-source.sha256"


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
    gallery_dirs = app.config.sphinx_gallery_conf.get("gallery_dirs", [])
    if isinstance(gallery_dirs, str):
        gallery_dirs = [gallery_dirs]
    for gallery_dir in map(Path, gallery_dirs):
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


def setup(app):
    app.add_config_value("sgdlab_source_dir", "", "env")
    # Before sphinx-gallery's own builder-inited handler (priority 500) reads the checksums.
    app.connect("builder-inited", expire_stale_examples, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
