"""The article's gallery scripts are shown in the article's order."""


from helpers import ROOT

from sgdlab_sphinx import SCRIPT_ORDER, ScriptOrder  # noqa: E402


def test_listed_scripts_come_first_in_order_then_the_rest_by_name():
    key = ScriptOrder(str(ROOT / "examples" / "article"))
    names = ["plot_zeta.py", "plot_worked_example.py", "plot_alpha.py", "plot_constructor.py"]
    assert sorted(names, key=key) == [
        "plot_constructor.py", "plot_worked_example.py", "plot_alpha.py", "plot_zeta.py"
    ]


def test_every_article_script_has_its_place():
    on_disk = sorted(p.name for p in (ROOT / "examples" / "article").glob("plot_*.py"))
    assert sorted(SCRIPT_ORDER["article"]) == on_disk
