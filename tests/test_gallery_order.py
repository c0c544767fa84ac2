"""The article's gallery scripts are shown in the article's order, and the gallery's sections in
the guide's."""


from pathlib import Path

from helpers import ROOT

from sgdlab_build import ARTICLE_ORDER, GALLERY_SECTIONS, GUIDE_PAGE_OF_SECTION, script_order  # noqa: E402


def test_listed_scripts_come_first_in_order_then_the_rest_by_name():
    """sphinx-gallery passes bare names when it lays out a section, full paths elsewhere."""
    names = ["plot_zeta.py", "plot_worked_example.py", "plot_alpha.py", "plot_constructor.py"]
    assert sorted(names, key=script_order) == [
        "plot_constructor.py", "plot_worked_example.py", "plot_alpha.py", "plot_zeta.py"
    ]
    paths = [str(ROOT / "examples" / "article" / name) for name in names]
    assert sorted(paths, key=script_order) == [str(ROOT / "examples" / "article" / name) for name in (
        "plot_constructor.py", "plot_worked_example.py", "plot_alpha.py", "plot_zeta.py")]


def test_every_article_script_has_its_place():
    on_disk = sorted(p.name for p in (ROOT / "examples" / "article").glob("plot_*.py"))
    assert sorted(ARTICLE_ORDER) == on_disk


def test_the_gallery_uses_that_order():
    conf = {"__file__": str(ROOT / "conf.py")}
    exec(compile((ROOT / "conf.py").read_text(), "conf.py", "exec"), conf)
    assert conf["sphinx_gallery_conf"]["within_subsection_order"] == "sgdlab_build.script_order"


def guide_toctree() -> list[str]:
    """The pages of the guide's toctree, in order."""
    text = (ROOT / "docs" / "guide" / "index.md").read_text()
    block = text.split("```{toctree}", 1)[1].split("```", 1)[0]
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith(":")]


def test_the_guide_runs_in_learning_order():
    """The learning rate first (momentum's bounds are built on it), the checklist last."""
    assert guide_toctree() == [
        "learning-rate", "momentum", "dampening", "regularisation", "stochastic",
        "landscapes", "recipes", "learning-the-lr", "pitfalls", "troubleshooting",
    ]


def test_gallery_sections_follow_the_guide():
    """Each guide section's gallery section sits in the order of its guide page, between the
    article's (first) and the project's (last)."""
    guide = guide_toctree()
    sections = [name for name in GALLERY_SECTIONS if name in GUIDE_PAGE_OF_SECTION]
    assert [GUIDE_PAGE_OF_SECTION[name] for name in sections] == [
        page for page in guide if page in GUIDE_PAGE_OF_SECTION.values()
    ]
    assert GALLERY_SECTIONS[0] == "article" and GALLERY_SECTIONS[-1] == "performance"
    on_disk = {p.name for p in (ROOT / "examples").iterdir() if p.is_dir()}
    assert on_disk == set(GALLERY_SECTIONS)


def test_the_gallery_uses_the_section_order():
    conf = {"__file__": str(ROOT / "conf.py")}
    exec(compile((ROOT / "conf.py").read_text(), "conf.py", "exec"), conf)
    order = conf["sphinx_gallery_conf"]["subsection_order"]
    assert [Path(entry).name for entry in order.ordered_list[:-1]] == GALLERY_SECTIONS
