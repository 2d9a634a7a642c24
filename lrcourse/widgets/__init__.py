"""Explorers: sliders wired to a figure, for a kernel and for the static website.

Every interactive figure of the course is an :class:`Explorer`: a *draw function*
plus a list of *controls* (:class:`LogSlider` for rates, :class:`FloatSlider`,
:class:`IntSlider`, :class:`Dropdown`). The computation lives in the package
(:mod:`lrcourse.optimizers`, :mod:`lrcourse.objectives`, ...), the look in
:mod:`lrcourse.plotting`; this module only wires sliders to them.

The draw function
-----------------
``draw(fig, state, **values)`` receives a matplotlib figure (or sub-figure), a
dict ``state`` that is empty on the first call, and one keyword per control::

    def draw(fig, state, lr):
        if not state:                                   # first call: build the artists
            ax = fig.subplots()
            ax.contourf(X, Y, Z)                         # precomputed once, outside draw
            (state["path"],) = ax.plot([], [], "o-")
        path = descent.run(f.grad, x0, optimizers.sgd(lr=lr), 50)
        state["path"].set_data(path[:, 0], path[:, 1])   # later calls: update only

Creating artists once and then only updating them (``set_data``,
``set_offsets``, ``set_text``, ...) keeps a slider move (compute + redraw +
PNG) well under 100 ms; anything independent of the sliders, such as a
contour grid, is computed once when the explorer is built.

Four ways to show the same draw function
----------------------------------------
- :meth:`Explorer.show` (needs a kernel): the controls above an
  ``ipywidgets.Image`` that receives fresh PNG bytes after each move. Only
  core widgets are used (no ``ipympl``), so it behaves the same on ipywidgets
  7.7 (Colab) and 8.
- :meth:`Explorer.static`: small multiples of the draw function at chosen
  settings, one matplotlib figure, for readers of the website.
- :meth:`Explorer.player`: the draw function rendered ahead of time at up to
  25 values of one control and packed into a self-contained HTML player (a
  range slider and a play button swapping base64 PNG frames with a few lines
  of inline JavaScript, no external files): the slider without a kernel.
- :meth:`Explorer.update` returns the figure after one compute + redraw, and
  :meth:`Explorer.latency` times update + PNG rendering (p50/p95 in ms).

Figures are plain :class:`matplotlib.figure.Figure` objects with an Agg
canvas, never pyplot figures, so nothing is displayed twice and everything
works headless.
"""

# The machinery, then one module of explorers per topic.
from lrcourse.widgets.batch_size import ChoiceSlider, batch_size_explorer, powers_of_two
from lrcourse.widgets.clipping import clipping_explorer
from lrcourse.widgets.core import (
    MAX_FRAMES,
    Control,
    Dropdown,
    Explorer,
    FloatSlider,
    IntSlider,
    LogSlider,
    round_values,
)
from lrcourse.widgets.descent import descent_explorer, descent_explorer_1d
from lrcourse.widgets.early_stopping import stopping_explorer
from lrcourse.widgets.epochs import capacity_explorer
from lrcourse.widgets.learning_rate import stability_explorer
from lrcourse.widgets.optimizers import optimizer_race_explorer
from lrcourse.widgets.scaling import rate_transfer_explorer
from lrcourse.widgets.schedules import designer_schedule, schedule_explorer
from lrcourse.widgets.tuning import RateChoice, recipe_explorer
from lrcourse.widgets.warmup_wsd import wsd_branch_explorer
