"""``jupyter-book build`` with Sphinx reading (and so executing) pages in parallel.

Jupyter Book 1.x builds with one Sphinx process, and myst-nb executes each notebook
while Sphinx reads it, so the chapters run one after another. Sphinx itself can read
in parallel (``sphinx-build -j N``), but ``jupyter-book build`` has no option for it:
this script passes ``jobs`` to the function that starts Sphinx and then runs the same
command line.

Sphinx reads in parallel only when every extension declares itself safe for it. Two
that Jupyter Book adds declare nothing, and both are safe, so this script says so
for them:

- ``sphinx_multitoc_numbering`` (0.1.3, its last release) replaces the method that
  numbers sections across the table of contents, which Sphinx calls in the main
  process after the pages are read;
- ``sphinx_jupyterbook_latex`` (1.0.0) adds transforms that change only the page's own
  doctree, and acts only for the LaTeX builder.

When ``make notebooks`` has just run every chapter under nbval on the same tree, the
build takes their outputs from it instead of running the chapters again
(``scripts/reuse_outputs.py``); otherwise it runs them.

    python scripts/build_book.py --jobs 2 . -W -n --keep-going
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "_build" / ".jupyter_cache"


def main(argv):
    jobs = 1
    if argv[:1] == ["--jobs"]:
        if len(argv) < 2 or not argv[1].isdigit() or int(argv[1]) < 1:
            got = argv[1] if len(argv) > 1 else "nothing"
            raise ValueError(f"--jobs must be a whole number >= 1, got {got}")
        jobs, argv = int(argv[1]), argv[2:]

    import jupyter_book.sphinx
    import sphinx_jupyterbook_latex
    import sphinx_multitoc_numbering

    for extension in (sphinx_multitoc_numbering, sphinx_jupyterbook_latex):
        extension.setup = _declared_safe(extension.setup)
    from jupyter_book.cli.main import main as cli
    from reuse_outputs import fill_cache  # beside this script

    sys.path.insert(0, str(ROOT / "tests"))
    from toc import toc_notebooks  # the notebooks the book builds

    sys.path.remove(str(ROOT / "tests"))
    notebooks = toc_notebooks()
    overrides = {}
    reused, why_not = fill_cache(CACHE, notebooks)
    if reused:
        print(f"chapters: the outputs of the nbval run ({len(notebooks)} notebooks), not run again")
        overrides = {"nb_execution_mode": "cache", "nb_execution_cache_path": str(CACHE)}
    else:
        print(f"chapters: run now ({why_not})")
    # the build command imports build_sphinx from jupyter_book.sphinx when it runs
    jupyter_book.sphinx.build_sphinx = functools.partial(
        _build_sphinx, jupyter_book.sphinx.build_sphinx, jobs, overrides
    )
    cli(["build", *argv])  # exits with the build's status


def _build_sphinx(build_sphinx, jobs, overrides, *args, **kwargs):
    kwargs["confoverrides"] = {**(kwargs.get("confoverrides") or {}), **overrides}
    return build_sphinx(*args, jobs=jobs, **kwargs)


def _declared_safe(setup):
    @functools.wraps(setup)
    def wrapped(app):
        return {**(setup(app) or {}), "parallel_read_safe": True, "parallel_write_safe": True}

    return wrapped


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
