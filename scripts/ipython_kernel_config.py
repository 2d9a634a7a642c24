"""IPython kernel settings for the course: figures drawn at twice their size.

The inline backend draws a matplotlib figure as a PNG of its size in pixels at 100 dpi,
which a phone or any high-density screen enlarges 2-3 times: soft lines, axis labels a
few pixels tall. With ``retina`` it draws at twice the pixels and records the figure's
size in the output, so the notebook and the website show it at the same size, sharp.

``make`` puts this file where the kernels of the book build and of ``make notebooks``
read it (``IPYTHONDIR``), Binder's ``postBuild`` into the learner's IPython profile.
"""

c = get_config()  # noqa: F821  (defined when IPython reads a config file)
c.InlineBackend.figure_formats = {"retina"}
