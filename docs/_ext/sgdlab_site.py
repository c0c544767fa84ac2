"""Sphinx glue for the site as readers meet it: thumbnails that say what they show, figures that
open at full size, a page's figures shown on the page itself, the path the site is served under.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import re
import shutil
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

#: Where sphinx-gallery puts an example's thumbnail: <section>/images/thumb/sphx_glr_<stem>_thumb.png
THUMBNAIL = re.compile(r"^/?(?P<section>.+)/images/thumb/sphx_glr_(?P<stem>.+)_thumb\.\w+$")

def example_docname(image_uri: str) -> str | None:
    """The gallery page a thumbnail image belongs to, or None for any other image.

    >>> example_docname("auto_examples/article/images/thumb/sphx_glr_plot_worked_example_thumb.png")
    'auto_examples/article/plot_worked_example'
    >>> example_docname("_static/logo.png") is None
    True
    """
    match = THUMBNAIL.match(image_uri)
    return f"{match['section']}/{match['stem']}" if match else None


def describe_thumbnails(app, doctree: nodes.document, docname: str) -> None:
    """Give sphinx-gallery's thumbnails (whose alt text is empty) the title of their example."""
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        example = example_docname(image.get("uri", ""))
        title = app.env.titles.get(example) if example else None
        if title is not None:
            image["alt"] = f"Preview of the example: {title.astext()}"


def root_path(base_url: str) -> str:
    """The path the site is served under, from ``html_baseurl`` ('/' when it is not set).

    sphinx-notfound-page starts the 404 page's links there (``notfound_urls_prefix``), so the
    page works at whatever depth a missing address was.

    >>> root_path("https://someone.github.io/sgdlab")
    '/sgdlab/'
    >>> root_path("https://sgdlab.readthedocs.io/en/latest/")
    '/en/latest/'
    >>> root_path("")
    '/'
    """
    path = urlsplit(base_url).path if base_url else "/"
    return str(PurePosixPath("/", path)).rstrip("/") + "/"


def absolute_link(uri: str, prefix: str) -> str:
    """A link of the 404 page (served at any depth) made absolute under the site's path.

    >>> absolute_link("auto_examples/index.html", "/sgdlab/")
    '/sgdlab/auto_examples/index.html'
    >>> [absolute_link(uri, "/") for uri in ("#top", "/x.html", "https://x.org/")]
    ['#top', '/x.html', 'https://x.org/']
    """
    if not uri or uri.startswith(("/", "#")) or "://" in uri or uri.startswith("mailto:"):
        return uri
    return prefix + uri.removeprefix("./")


def anchor_404_links(app, doctree: nodes.document, docname: str) -> None:
    """Make the body links of the 404 page absolute (sphinx-notfound-page does its theme links)."""
    if docname != app.config.notfound_pagename:
        return
    prefix = app.config.notfound_urls_prefix or "/"
    for reference in doctree.findall(nodes.reference):
        if reference.get("refuri"):
            reference["refuri"] = absolute_link(reference["refuri"], prefix)


def anchor_404_content_root(app, pagename, templatename, context, doctree) -> None:
    """The 404 page's scripts (search, theme) find the site from its root, not from '.'."""
    if pagename == app.config.notfound_pagename:
        context["content_root"] = app.config.notfound_urls_prefix or "/"


def build_context_digest(context: dict) -> str:
    """A digest of what the footer says built the site (``html_context``).

    >>> build_context_digest({"a": 1}) == build_context_digest({"a": 1}) != build_context_digest({"a": 2})
    True
    """
    text = repr(sorted((str(key), str(value)) for key, value in context.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def refresh_module_pages(app) -> None:
    """Drop the source pages (``_modules``) when the build context changed, so they are rewritten.

    viewcode rewrites a module's page only when the module's file changes, so its footer
    would go on naming an older PyTorch or other devices.
    """
    if app.builder.format != "html":
        return
    stamp = Path(app.outdir) / ".sgdlab-build-context"
    digest = build_context_digest(app.config.html_context)
    if stamp.exists() and stamp.read_text().strip() == digest:
        return
    shutil.rmtree(Path(app.outdir) / "_modules", ignore_errors=True)
    Path(app.outdir).mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")


def full_name_in_module(module_name: str, target: str) -> str | None:
    """The full name of what ``target`` means inside ``module_name``, as Python would look it up.

    >>> full_name_in_module("sgdlab.optim", "Tensor")
    'torch.Tensor'
    >>> full_name_in_module("collections", "OrderedDict")
    'collections.OrderedDict'
    >>> full_name_in_module("sgdlab", "nothing_of_that_name") is None
    True
    """
    try:
        obj = importlib.import_module(module_name)
        for part in target.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname else None


def candidates(package_name: str, module_name: str, target: str) -> list[str]:
    """Where ``target``, written inside ``module_name``, may be documented.

    The API page documents every public name as the package exports it
    (``sgdlab.minimize``), so a name is tried there first; a type hint's bare name
    (``Tensor``) is tried in each module of the package, as the module imported it.

    >>> candidates("sgdlab", "sgdlab.trajectory", "minimize")[0]
    'sgdlab.minimize'
    >>> "torch.Tensor" in candidates("sgdlab", "sgdlab", "Tensor")
    True
    """
    package = importlib.import_module(package_name)
    found = []
    head = target.split(".")[0]
    if head in getattr(package, "__all__", ()):
        found.append(f"{package_name}.{target}")
    modules = [module_name, *(f"{package_name}.{info.name}"
                              for info in pkgutil.iter_modules(package.__path__))]
    for module in modules:
        full_name = full_name_in_module(module, target)
        if full_name and full_name not in found and full_name != target:
            found.append(full_name)
    return found


def resolve_imported_name(app, env, node, contnode):
    """Resolve a name by where the API page documents it, or by what its module imported.

    ``minimize`` in the trajectory module's docstring is ``sgdlab.minimize``; ``Tensor`` in a
    type hint is ``torch.Tensor`` (autodoc writes a hint as it finds it when it cannot
    evaluate it).
    """
    module = node.get("py:module")
    if node.get("refdomain") != "py" or not module:
        return None
    packages = [name for name in app.config.sgdlab_public_packages
                if module == name or module.startswith(name + ".")]
    if not packages:
        return None
    domain = env.domains["py"]
    for full_name in candidates(packages[0], module, node["reftarget"]):
        retry = node.deepcopy()
        retry["reftarget"] = full_name
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], full_name, retry, contnode)
        if found is None:
            from sphinx.ext.intersphinx import missing_reference

            found = missing_reference(app, env, retry, contnode)
        if found is not None:
            return found
    return None


#: One entry of an ``srcset`` attribute: a URL and an optional density ("2.00x").
SRCSET_ENTRY = re.compile(r"\s*(?P<url>[^\s,]+)(?:\s+(?P<density>[\d.]+)x)?\s*")


def largest_source(srcset: str) -> str | None:
    """The URL of the densest image in an ``srcset`` attribute (None when it is empty).

    >>> largest_source("a.png, a_2_00x.png 2.00x")
    'a_2_00x.png'
    >>> largest_source("a.png")
    'a.png'
    >>> largest_source("") is None
    True
    """
    found = [
        (float(match["density"] or 1), match["url"])
        for entry in srcset.split(",")
        if (match := SRCSET_ENTRY.fullmatch(entry)) and match["url"]
    ]
    return max(found)[1] if found else None


def link_to_full_size(img_html: str) -> str:
    """Wrap a gallery ``<img>`` in a link to its densest file, so a click opens it full size.

    >>> link_to_full_size('<img src="_images/f.png" srcset="_images/f.png, _images/f_2_00x.png 2.00x" alt="f"/>')
    '<a class="sgdlab-enlarge reference external" href="_images/f_2_00x.png" title="Open the figure at full size"><img src="_images/f.png" srcset="_images/f.png, _images/f_2_00x.png 2.00x" alt="f"/></a>'
    >>> link_to_full_size('<img src="x.png" alt="x"/>')
    '<a class="sgdlab-enlarge reference external" href="x.png" title="Open the figure at full size"><img src="x.png" alt="x"/></a>'
    """
    srcset = re.search(r'\ssrcset="([^"]*)"', img_html)
    src = re.search(r'\ssrc="([^"]*)"', img_html)
    target = (largest_source(srcset[1]) if srcset else None) or (src[1] if src else None)
    if target is None:
        return img_html
    return (
        f'<a class="sgdlab-enlarge reference external" href="{target}" '
        f'title="Open the figure at full size">{img_html}</a>'
    )


def visit_linked_figure(self, node) -> None:
    """sphinx-gallery's ``image-sg`` HTML, wrapped in a link to the 2x file (click to enlarge)."""
    from sphinx_gallery.directives import visit_imgsg_html

    start = len(self.body)
    visit_imgsg_html(self, node)
    if node.get("srcset") is None:  # the plain image path: sphinx writes it, leave it alone
        return
    self.body[start:] = [link_to_full_size("".join(self.body[start:]))]


def depart_linked_figure(self, node) -> None:
    """Nothing to close: the visit wrote the whole element (as sphinx-gallery's own does)."""


def example_figures(images_dir: Path, stem: str) -> list[tuple[Path, Path | None]]:
    """The figures sphinx-gallery saved for an example, each with its 2x file when there is one.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ["sphx_glr_plot_a_001.png", "sphx_glr_plot_a_001_2_00x.png",
    ...              "sphx_glr_plot_a_002.png", "sphx_glr_plot_ab_001.png"]:
    ...     _ = (folder / name).write_bytes(b"")
    >>> [(one.name, two and two.name) for one, two in example_figures(folder, "plot_a")]
    [('sphx_glr_plot_a_001.png', 'sphx_glr_plot_a_001_2_00x.png'), ('sphx_glr_plot_a_002.png', None)]
    """
    pattern = re.compile(rf"sphx_glr_{re.escape(stem)}_(\d{{3}})\.png")
    found = sorted(path for path in images_dir.glob(f"sphx_glr_{stem}_*.png") if pattern.fullmatch(path.name))
    return [(path, path.with_name(f"{path.stem}_2_00x.png") if path.with_name(f"{path.stem}_2_00x.png").exists() else None) for path in found]


class ExampleFigures(SphinxDirective):
    """``{example-figures} /auto_examples/<section>/plot_x``: the figures that gallery script drew,
    shown on this page, each opening at full size on a click.

    A build that does not run the gallery (``make html-noplot``) has no figures to show; the
    page's own link to the script stays.
    """

    required_arguments = 1
    option_spec = {"figures": directives.positive_int_list}

    def run(self) -> list[nodes.Node]:
        docname = self.arguments[0].strip().lstrip("/")
        section, stem = docname.removeprefix("auto_examples/").rsplit("/", 1)
        images_dir = Path(self.env.srcdir) / "auto_examples" / section / "images"
        script = Path(self.env.srcdir).parent / "examples" / section / f"{stem}.py"
        if not script.is_file():
            raise self.error(f"example-figures: no gallery script {script}")
        self.env.note_dependency(str(script))
        pages = getattr(self.env, "sgdlab_example_pages", None)
        if pages is None:
            pages = self.env.sgdlab_example_pages = {}
        pages.setdefault(docname, set()).add(self.env.docname)
        wanted = self.options.get("figures")
        container = nodes.container(classes=["sgdlab-example-figures"])
        figures = example_figures(images_dir, stem)
        for number, (one, two) in enumerate(figures, start=1):
            if wanted and number not in wanted:
                continue
            self.env.note_dependency(str(one))
            uri = "/" + one.relative_to(self.env.srcdir).as_posix()
            image = _imgsgnode()
            image["uri"] = uri
            image["alt"] = f"Figure {number} of the example {stem}.py"
            image["class"] = ["sphx-glr-single-img"]
            image["srcset"] = f"{uri}, /{two.relative_to(self.env.srcdir).as_posix()} 2.00x" if two else f"{uri}"
            container += image
        return [container]


def forget_example_pages(app, env, docname) -> None:
    """Drop what a page said about its figures before it is read again."""
    for pages in getattr(env, "sgdlab_example_pages", {}).values():
        pages.discard(docname)


def merge_example_pages(app, env, docnames, other) -> None:
    """Gather, after a parallel read, which page shows which example's figures."""
    mine = env.__dict__.setdefault("sgdlab_example_pages", {})
    for example, pages in getattr(other, "sgdlab_example_pages", {}).items():
        mine.setdefault(example, set()).update(pages & set(docnames))


def outdated_example_pages(app, env, added, changed, removed) -> list[str]:
    """Gallery pages to write again because a page that shows their figures changed."""
    touched = set(added) | set(changed) | set(removed)
    return sorted(
        example
        for example, pages in getattr(env, "sgdlab_example_pages", {}).items()
        if pages & touched and example in env.found_docs
    )


def link_back_to_pages(app, doctree: nodes.document, docname: str) -> None:
    """Under a gallery page's title, link to the pages that explain it and show its figures."""
    pages = sorted(getattr(app.env, "sgdlab_example_pages", {}).get(docname, ()))
    section = next(iter(doctree.findall(nodes.section)), None)
    if not pages or section is None or app.builder.format != "html":
        return
    note = nodes.paragraph(classes=["sgdlab-explained-on"])
    note += nodes.Text("Explained on the page ")
    for number, page in enumerate(pages):
        if number:
            note += nodes.Text(" and ")
        title = app.env.titles[page].astext() if page in app.env.titles else page
        note += nodes.reference("", title, internal=True, refuri=app.builder.get_relative_uri(docname, page))
    note += nodes.Text(".")
    section.insert(1, note)


def _imgsgnode():
    from sphinx_gallery.directives import imgsgnode

    return imgsgnode()


def setup(app):
    from sphinx_gallery.directives import imgsgnode

    app.add_node(imgsgnode, override=True, html=(visit_linked_figure, depart_linked_figure))
    app.add_directive("example-figures", ExampleFigures)
    app.connect("env-purge-doc", forget_example_pages)
    app.connect("env-merge-info", merge_example_pages)
    app.connect("env-get-outdated", outdated_example_pages)
    app.connect("doctree-resolved", link_back_to_pages)
    app.add_config_value("sgdlab_public_packages", (), "env")
    app.connect("missing-reference", resolve_imported_name)
    app.connect("builder-inited", refresh_module_pages)
    app.connect("doctree-resolved", describe_thumbnails)
    app.connect("doctree-resolved", anchor_404_links)
    app.connect("html-page-context", anchor_404_content_root, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
