"""The article's gallery scripts are shown in the article's order."""


from helpers import ROOT

from sgdlab_build import ARTICLE_ORDER, script_order  # noqa: E402


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
