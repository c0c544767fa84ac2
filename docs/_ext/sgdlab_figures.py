"""How the site shows figures: each opens at full size on a click, an article or guide page
shows the figures of its gallery script (whose page links back), thumbnails say what they show.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective
from sphinx_gallery.directives import depart_imgsg_html, imgsgnode, visit_imgsg_html

#: Where sphinx-gallery puts an example's thumbnail: <section>/images/thumb/sphx_glr_<stem>_thumb.png
THUMBNAIL = re.compile(r"^/?(?P<section>.+)/images/thumb/sphx_glr_(?P<stem>.+)_thumb\.\w+$")


def describe_thumbnails(app, doctree: nodes.document, docname: str) -> None:
    """Give sphinx-gallery's thumbnails (whose alt text is empty) the title of their example."""
    for image in doctree.findall(nodes.image):
        match = THUMBNAIL.match(image["uri"])
        title = match and app.env.titles.get(f"{match['section']}/{match['stem']}")
        if title and not image.get("alt"):
            image["alt"] = f"Preview of the example: {title.astext()}"


#: Shown under each figure: on a phone a figure is smaller than its text was drawn for.
ENLARGE_HINT = "Tap or click the figure to enlarge it"


#: Written beside each gallery figure's file: the figure's width and its smallest text.
TEXT_RECORD_SUFFIX = ".text.json"


def smallest_text(figure) -> float | None:
    """The size in points of the smallest visible, non-empty text of a drawn matplotlib figure."""
    from matplotlib.text import Text

    sizes = [text.get_fontsize() for text in figure.findobj(Text)
             if text.get_visible() and text.get_text().strip()]
    return min(sizes) if sizes else None


def scrape_with_text_sizes(block, block_vars, gallery_conf, **kwargs) -> str:
    """sphinx-gallery's matplotlib scraper, which also records each figure's smallest text.

    Beside each figure file it writes ``<file>.text.json``: the figure's width in inches and
    its smallest text in points, from which the site tests compute the text's size on screen.
    The figures are inspected after the scraper saved (and so drew) them: tick labels exist then.
    """
    import matplotlib.pyplot as plt
    from sphinx_gallery.scrapers import matplotlib_scraper

    figures = [plt.figure(number) for number in plt.get_fignums()]
    iterator = block_vars["image_path_iterator"]
    before = len(iterator)
    rst = matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)
    for path, figure in zip(iterator.paths[before:], figures):
        record = {"width_in": figure.get_figwidth(), "smallest_pt": smallest_text(figure)}
        Path(str(path) + TEXT_RECORD_SUFFIX).write_text(json.dumps(record) + "\n")
    return rst


def visit_linked_figure(self, node: imgsgnode) -> None:
    """sphinx-gallery's ``<img>``, inside a link to its densest file: a click opens it full size."""
    visit_imgsg_html(self, node)
    if node["srcset"] is None:  # sphinx wrote a plain image: leave it
        return
    img = self.body[-1]
    densest = re.search(r'srcset="([^"]*)"', img)[1].split(",")[-1].split()[0]  # listed last
    self.body[-1] = (f'<a class="sgdlab-enlarge reference external" href="{densest}" '
                     f'title="Open the figure at full size">{img}'
                     f'<span class="sgdlab-enlarge-hint">{ENLARGE_HINT}</span></a>')


def example_script(env, docname: str) -> Path:
    """The gallery script of the gallery page ``auto_examples/<section>/plot_x``."""
    section, stem = docname.removeprefix("auto_examples/").split("/")
    return Path(env.srcdir).parent / "examples" / section / f"{stem}.py"


def pages_showing(env, docname: str) -> list[str]:
    """The pages that show a gallery page's figures: those that depend on its script."""
    if not docname.startswith("auto_examples/") or docname.count("/") != 2:
        return []
    script = example_script(env, docname)
    return sorted(page for page, paths in env.dependencies.items() if script in paths)


class ExampleFigures(SphinxDirective):
    """``{example-figures} /auto_examples/<section>/plot_x``: the figures that gallery script drew.

    A build that does not run the gallery (``make html-noplot``) has none to show.
    """

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        script = example_script(self.env, self.arguments[0].lstrip("/"))
        if not script.is_file():
            raise self.error(f"example-figures: no gallery script {script}")
        self.env.note_dependency(script)  # which is also how its gallery page finds this one
        stem = script.stem
        images = Path(self.env.srcdir) / "auto_examples" / script.parent.name / "images"
        container = nodes.container(classes=["sgdlab-example-figures"])
        for number, figure in enumerate(sorted(images.glob(f"sphx_glr_{stem}_[0-9][0-9][0-9].png")), 1):
            self.env.note_dependency(figure)
            uri = "/" + figure.relative_to(self.env.srcdir).as_posix()
            # The 2x file is there: the gallery's image_srcset asks sphinx-gallery for it.
            srcset = f"{uri}, {uri.removesuffix('.png')}_2_00x.png 2.00x"
            alt = f"Figure {number} of the example {stem}.py"
            container += imgsgnode(uri=uri, srcset=srcset, alt=alt, **{"class": ["sphx-glr-single-img"]})
        return [container]


def outdated_gallery_pages(app, env, added, changed, removed) -> list[str]:
    """Gallery pages to write again because a page that shows their figures changed."""
    touched = set(added) | set(changed) | set(removed)
    return [docname for docname in env.found_docs if touched.intersection(pages_showing(env, docname))]


def link_back_to_pages(app, doctree: nodes.document, docname: str) -> None:
    """Under a gallery page's title, link to the pages that explain it and show its figures."""
    pages = pages_showing(app.env, docname)
    if not pages or app.builder.format != "html":
        return
    note = nodes.paragraph("", "Explained on the page ", classes=["sgdlab-explained-on"])
    for number, page in enumerate(pages):
        if number:
            note += nodes.Text(" and ")
        note += nodes.reference("", app.env.titles[page].astext(), internal=True,
                                refuri=app.builder.get_relative_uri(docname, page))
    note += nodes.Text(".")
    next(doctree.findall(nodes.section)).insert(1, note)


def setup(app):
    app.add_node(imgsgnode, override=True, html=(visit_linked_figure, depart_imgsg_html))
    app.add_directive("example-figures", ExampleFigures)
    app.connect("env-get-outdated", outdated_gallery_pages)
    app.connect("doctree-resolved", link_back_to_pages)
    app.connect("doctree-resolved", describe_thumbnails)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
