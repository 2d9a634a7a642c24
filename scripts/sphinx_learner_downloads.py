"""Sphinx extension: the download button gives the learner edition of a page.

Jupyter Book's download button links the page's source notebook under ``_sources/``,
which is written for the website (MyST directives, solutions in dropdowns). After a
successful build, each such notebook is replaced by its learner edition from
``learner/`` (``scripts/learner_edition.py``), the notebook Binder and Colab open too.

Loaded through ``sphinx: local_extensions`` in ``_config.yml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def _copy_learner_edition(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    learner = Path(app.srcdir) / "learner"
    sources = Path(app.outdir) / "_sources"
    for notebook in learner.glob("book/**/*.ipynb"):
        target = sources / notebook.relative_to(learner)
        if target.exists():
            shutil.copyfile(notebook, target)


def setup(app):
    app.connect("build-finished", _copy_learner_edition)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
