"""Sphinx configuration of nnlite's documentation site (PyData theme, numpydoc, myst-nb).

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (what ``.ci/run`` runs), then
``python docs/check_links.py docs/_build/html`` for the internal links. The notebooks are rendered from their
committed outputs; nothing is executed.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nnlite  # noqa: E402

# numpydoc reports a docstring it cannot parse (an unknown section, a wrong underline) as a Python warning, which
# sphinx's -W does not see: make it an error, so that CI fails on it like on a Sphinx warning.
warnings.filterwarnings("error", category=UserWarning, module="numpydoc")


def _copy_notebooks() -> None:
    """The notebooks live in ``notebooks/`` beside the code they import; the site shows copies of them (with
    their committed outputs) under ``docs/notebooks/``, refreshed at every build and ignored by git."""
    import shutil

    src, dst = ROOT / "notebooks", Path(__file__).resolve().parent / "notebooks"
    dst.mkdir(exist_ok=True)
    wanted = {p.name for p in src.glob("*.ipynb")} | {"README.md"}
    for stale in dst.iterdir():
        if stale.name not in wanted:
            stale.unlink()
    for name in sorted(wanted - {"README.md"}):
        if not (dst / name).exists() or (dst / name).read_bytes() != (src / name).read_bytes():
            shutil.copyfile(src / name, dst / name)
    index = (src / "README.md").read_text() + "\n```{toctree}\n:hidden:\n:glob:\n\n0*\n```\n"
    if not (dst / "README.md").exists() or (dst / "README.md").read_text() != index:
        (dst / "README.md").write_text(index)


_copy_notebooks()


def _copy_mathjax() -> None:
    """MathJax 3 served by the site itself, so that formulas typeset with no network: its files come from the
    ``django-static-mathjax`` package (the ``docs`` extra; a Python package holding MathJax's own build, with no
    dependencies) and are copied to ``docs/_mathjax/mathjax/`` (ignored by git), which the build puts under
    ``_static/``. Only what the CommonHTML output of ``tex-mml-chtml.js`` loads is copied: the fonts, the TeX
    extensions it may load on demand, and the menu's accessibility and UI components."""
    import importlib.util
    import shutil

    spec = importlib.util.find_spec("mathjax")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    src = Path(locations[0]) / "static" / "mathjax" / "es5" if locations else None
    if src is None or not (src / "tex-mml-chtml.js").is_file():
        raise RuntimeError(
            "MathJax is missing: the site serves its own copy, from the docs extra (pip install -e '.[docs]')"
        )
    dst = Path(__file__).resolve().parent / "_mathjax" / "mathjax"
    wanted = ["tex-mml-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "a11y", "ui", "adaptors"]
    for rel in wanted:
        a, b = src / rel, dst / rel
        if a.is_dir():
            if not b.is_dir():
                shutil.copytree(a, b)
        elif a.is_file() and (not b.is_file() or b.stat().st_size != a.stat().st_size):
            b.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(a, b)


_copy_mathjax()

project = "nnlite"
author = "the nnlite authors"
copyright = "2026, the nnlite authors"
release = version = nnlite.__version__ if hasattr(nnlite, "__version__") else "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_nb",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = [
    "_build",
    "notebooks/_setup.py",
    "notebooks/.ipynb_checkpoints",
    "**/.ipynb_checkpoints",
    "check_links.py",
    "_mathjax",
    "_static",
    "_apidocs.py",
]
templates_path = ["_templates"]
html_static_path = ["_static", "_mathjax"]
html_css_files = ["nnlite.css"]
html_js_files = ["nnlite.js"]
# MathJax from the site itself (see _copy_mathjax): a relative path is taken below _static/.
mathjax_path = "mathjax/tex-mml-chtml.js"

# The notebooks are shown with the outputs committed beside them; CI runs them separately (tests/test_notebooks.py).
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# A link to a file outside the site (a source file, a spec) is written as a link to the repository.
myst_url_schemes = ["http", "https", "mailto"]
suppress_warnings = ["mystnb.unknown_mime_type"]

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False, "show-inheritance": True}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Each public object must have a docstring, and every parameter of its signature documented (checked on build:
# with -W a missing one fails CI).
numpydoc_validation_checks = {"GL08"}
numpydoc_validation_exclude = {r"\.__init__$", r"\.__repr__$", r"\.__call__$"}
# Class attributes whose value is None: numpydoc validates the value (None has no docstring), while the attribute is
# documented by its ``#:`` comment, which autodoc shows.
numpydoc_validation_exclude |= {r"^nnlite\.config\.Option\.default$", r"^nnlite\.layers\.Layer\.spec$"}

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

html_theme = "pydata_sphinx_theme"
html_title = "nnlite"
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    # the landing page gives its width to its figure (drawn for the text column: docs/figures/headline.py)
    "secondary_sidebar_items": {"**": ["page-toc"], "index": []},
}
# A page inside a section (the user guide, the API, the notebooks, the reproductions) shows its section; a page
# without one shows the whole site's contents, so that no sidebar is empty.
_TOP_PAGES = ["index", "getting-started", "measurements", "design", "testing", "changelog"]
html_sidebars = {"**": ["sidebar-nav-bs"], **{page: ["sidebar-site"] for page in _TOP_PAGES}}


def _inherit_docstrings() -> None:
    """Give a public class's overriding methods their base's docstring, as :func:`inspect.getdoc` does (numpydoc's
    validation reads ``__doc__`` itself); a method with no docstring anywhere stays flagged (GL08)."""
    import inspect

    import nnlite.layers
    import nnlite.rules.direct

    modules = [nnlite, nnlite.rules, nnlite.projections, nnlite.config, nnlite.data, nnlite.models, nnlite.alignment]
    modules += [nnlite.layers, nnlite.rules.direct]
    for module in modules:
        for name in getattr(module, "__all__", []):
            cls = getattr(module, name, None)
            if not inspect.isclass(cls):
                continue
            for attr, value in vars(cls).items():
                func = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
                if attr.startswith("_") or not callable(func) or getattr(func, "__doc__", None):
                    continue
                doc = inspect.getdoc(getattr(cls, attr)) if not isinstance(value, property) else None
                if doc is None:
                    for base in cls.__mro__[1:]:
                        if attr in vars(base):
                            base_value = vars(base)[attr]
                            doc = getattr(getattr(base_value, "fget", base_value), "__doc__", None)
                            if doc:
                                break
                if doc:
                    try:
                        func.__doc__ = doc
                    except (AttributeError, TypeError):
                        pass


_inherit_docstrings()


def _inherit_parameters() -> None:
    """Each class's page (rules, layers, projections, optimizers, ...) and each loss's lists every parameter it
    takes: one shared with a base class (the direct rules' ``projection``, ``layout``, ``seed``...; the weight
    layers' ``init``, ``bias``...; the optimizers' ``lr``) or with another loss is documented once and copied
    into the Parameters section here, and RunConfig's are the run options' table (docs/_apidocs.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import _apidocs

    for obj in [*_apidocs.public_classes(), *_apidocs.public_functions()]:
        _apidocs.inherit_parameters(obj)


_inherit_parameters()
