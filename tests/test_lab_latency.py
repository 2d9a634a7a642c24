"""The JupyterLab latency benchmark still finds every explorer's cell in the book.

``benchmarks/lab_latency.py`` builds one small notebook per explorer from the chapters;
a chapter edit that moves or renames an explorer cell would break ``make bench`` without
this test. The floor's notebook is run here cell by cell (no browser).
"""

from __future__ import annotations

import sys

import pytest
from toc import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import lab_latency  # noqa: E402


@pytest.mark.parametrize(
    "label, notebook, factory", lab_latency.EXPLORERS, ids=[e[0] for e in lab_latency.EXPLORERS]
)
def test_small_notebook_ends_with_the_explorer_cell(label, notebook, factory):
    nb = lab_latency.small_notebook(ROOT / notebook, factory)
    assert f"widgets.{factory}(" in nb.cells[-1].source
    assert ".show()" in nb.cells[-1].source
    assert "from lrcourse import" in nb.cells[0].source


def test_floor_notebook_swaps_two_frames_drawn_in_advance():
    import matplotlib

    matplotlib.use("Agg")
    namespace = {}
    for cell in lab_latency.floor_notebook().cells:
        exec(compile(cell.source, "<floor>", "exec"), namespace)  # noqa: S102
    frames, image, slider = namespace["_frames"], namespace["_image"], namespace["_slider"]
    assert frames[0] != frames[1] and image.value == frames[0]
    slider.value = 1
    assert image.value == frames[1]
    slider.value = 2
    assert image.value == frames[0]
