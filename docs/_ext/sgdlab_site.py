"""Sphinx glue for the site as readers meet it: thumbnails that say what they show, a 404 page
that works at any address.
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

#: Where sphinx-gallery puts an example's thumbnail: <section>/images/thumb/sphx_glr_<stem>_thumb.png
THUMBNAIL = re.compile(r"^/?(?P<section>.+)/images/thumb/sphx_glr_(?P<stem>.+)_thumb\.\w+$")

#: A relative URL in an attribute of Sphinx's HTML (always double-quoted there).
RELATIVE_URL = re.compile(r'(?P<attr>\s(?:href|src|data-content_root))="(?P<url>(?![a-zA-Z][\w+.-]*:|/|#)[^"]*)"')


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

    >>> root_path("https://someone.github.io/sgdlab")
    '/sgdlab/'
    >>> root_path("https://sgdlab.readthedocs.io/en/latest/")
    '/en/latest/'
    >>> root_path("")
    '/'
    """
    path = urlsplit(base_url).path if base_url else "/"
    return str(PurePosixPath("/", path)).rstrip("/") + "/"


def anchor_to_root(html: str, root: str) -> str:
    """Make the relative URLs of a page at the site's root absolute paths under ``root``.

    A server answers every missing address with 404.html, at whatever depth the address was:
    relative links there would point into folders that do not exist.

    >>> anchor_to_root('<link href="_static/a.css"><a href="#top"></a><img src="x.png">', "/s/")
    '<link href="/s/_static/a.css"><a href="#top"></a><img src="/s/x.png">'
    >>> anchor_to_root('<html data-content_root="./"><a href="https://x.org/">', "/s/")
    '<html data-content_root="/s/"><a href="https://x.org/">'
    """

    def absolute(match: re.Match) -> str:
        url = match["url"].removeprefix("./")
        return f'{match["attr"]}="{root}{url}"'

    return RELATIVE_URL.sub(absolute, html)


def anchor_404_page(app, exception) -> None:
    """Rewrite the built 404.html so its styles, scripts and links load from any address."""
    page = Path(app.outdir) / "404.html"
    if exception is not None or app.builder.name != "html" or not page.exists():
        return
    root = root_path(app.config.html_baseurl)
    page.write_text(anchor_to_root(page.read_text(encoding="utf-8"), root), encoding="utf-8")


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


def setup(app):
    app.add_config_value("sgdlab_public_packages", (), "env")
    app.connect("missing-reference", resolve_imported_name)
    app.connect("builder-inited", refresh_module_pages)
    app.connect("doctree-resolved", describe_thumbnails)
    app.connect("build-finished", anchor_404_page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
