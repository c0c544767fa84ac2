"""Interactive figures ("explorers"): a gallery script's grid of real runs, drawn with controls.

A gallery script ends with an object whose ``_repr_html_`` is a ``<div class="sgdlab-explorer">``
holding its runs as JSON; sphinx-gallery captures it into the example's page. The
``{explorer}`` directive shows the same figure on an article or guide page. The script that
draws them, ``_static/sgdlab-explorer.js``, is shipped once with the site and loaded only by
the pages that hold an explorer.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from sgdlab_figures import example_script

#: How a captured explorer starts, in the HTML that sphinx-gallery wrote into the example's page.
MARK = '<div class="sgdlab-explorer">'
SCRIPT = "sgdlab-explorer.js"


def captured_explorer(srcdir: Path, docname: str) -> str | None:
    """The explorer's HTML in the generated page ``docname`` (``auto_examples/<section>/plot_x``),
    or None when the gallery did not run (``make html-noplot``)."""
    page = srcdir / f"{docname}.rst"
    if not page.is_file():
        return None
    # The captured output's line starts with the mark; the code listing's lines are quoted.
    found = [line.strip() for line in page.read_text(encoding="utf-8").splitlines()
             if line.strip().startswith(MARK)]
    if len(found) > 1:
        raise ValueError(f"{page} holds {len(found)} explorers; the directive shows one")
    return found[0] if found else None


class Explorer(SphinxDirective):
    """``{explorer} /auto_examples/<section>/plot_x``: that gallery script's interactive figure."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        docname = self.arguments[0].lstrip("/")
        script = example_script(self.env, docname)
        if not script.is_file():
            raise self.error(f"explorer: no gallery script {script}")
        self.env.note_dependency(script)  # its gallery page links back here, as for figures
        html = captured_explorer(Path(self.env.srcdir), docname)
        if html is None:
            return []
        self.env.note_dependency(str(Path(self.env.srcdir) / f"{docname}.rst"))
        return [nodes.raw("", html, format="html")]


def add_script(app, pagename, templatename, context, doctree) -> None:
    """Load the explorers' script on the pages that hold one (and on no other)."""
    if MARK in context.get("body", ""):
        app.add_js_file(SCRIPT, defer="defer")


def setup(app):
    app.add_directive("explorer", Explorer)
    app.connect("html-page-context", add_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
