"""The page doctests' two kinds of output, and the rounding noise they are proven under.

An expected output is *stable* by default: the text must match exactly (with the flags in
``doctest_default_flags``). One printed at its dtype's full precision, such as the article's
``tensor(1337.7185)``, may move in its last digit on another machine; its example says
``# doctest: +TOLERANT`` and is compared by the project's one comparer
(``tools/output_compare.py``) instead. Sphinx hides the flag on the page.

Under ``SGDLAB_ROUNDING_NOISE=SEED`` every torch operation of the run is moved by up to one
ulp (``tools/rounding_noise.py``): ``make doctest`` runs the pages under several seeds.
"""

from __future__ import annotations

import doctest

import sphinx.ext.doctest
from output_compare import differences
from rounding_noise import install_from_environment

#: The option flag of an example whose output is compared by the comparer.
TOLERANT = doctest.register_optionflag("TOLERANT")


class ToleranceChecker(doctest.OutputChecker):
    """Exact, as doctest checks; for a ``+TOLERANT`` example, within the one comparer."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if not optionflags & TOLERANT:
            return False
        if optionflags & doctest.NORMALIZE_WHITESPACE:  # a long repr may be wrapped on the page
            want, got = " ".join(want.split()), " ".join(got.split())
        return not differences(want, got, tolerant=True)


class SgdlabDocTestRunner(sphinx.ext.doctest.SphinxDocTestRunner):
    """Sphinx's doctest runner with :class:`ToleranceChecker` as its checker."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("checker", ToleranceChecker())
        super().__init__(*args, **kwargs)


def setup(app):
    # The builder makes a runner per page from this module-level name.
    sphinx.ext.doctest.SphinxDocTestRunner = SgdlabDocTestRunner
    install_from_environment()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
