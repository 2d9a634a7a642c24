"""The explorer machinery: controls, the Explorer, the kernel-free player.

See :mod:`lrcourse.widgets` for the pattern every explorer follows.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html as _html
import io
import json
import math
import struct
import time
import zlib

import matplotlib as mpl
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from lrcourse import _validate as check
from lrcourse.training import one_blas_thread

MAX_FRAMES = 25

# ----------------------------------------------------------------- controls


class Control:
    """One slider or menu: a ``name`` (the draw function's keyword), a default ``value``
    and a ``description`` shown beside the widget."""

    def __init__(self, name, value, description=None):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"name must be a valid Python identifier, got {name!r}")
        self.name = name
        self.value = value
        self.description = description or name

    def validate(self, value):
        """Return ``value`` if it is allowed, else raise ``ValueError``."""
        return value

    def grid(self, n):
        """``n`` representative values, in order (for players and small multiples)."""
        raise NotImplementedError

    def format(self, value):
        """``value`` as a short label, e.g. ``"lr = 0.01"``."""
        return f"{self.description} = {_fmt(value)}"

    def widget(self):
        """A new ipywidgets control for this value."""
        raise NotImplementedError


def _fmt(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.3g}"
    return str(value)


SLIDER_LOOK = {
    "continuous_update": True,
    "style": {"description_width": "initial"},
    "layout": {"width": "min(100%, 420px)"},
}
"""Keywords shared by every ipywidgets slider: redraw while it moves, the whole label, at most 420 px wide."""


def _check_order(low, high):
    if not low < high:
        raise ValueError(f"low must be below high, got low={low!r}, high={high!r}")


def _linear_widget(control, make, **options):
    """``make`` (an ipywidgets slider class) from ``control.low`` to ``control.high`` in steps of ``control.step``."""
    return make(
        value=control.value,
        min=control.low,
        max=control.high,
        step=control.step,
        description=control.description,
        **options,
        **SLIDER_LOOK,
    )


class _FloatRange(Control):
    """A slider over the floats from ``low`` to ``high`` (both already converted to float)."""

    def __init__(self, name, low, high, value, description):
        _check_order(low, high)
        check.check_range("value", value, low, high)
        super().__init__(name, float(value), description)
        self.low, self.high = low, high

    def validate(self, value):
        return float(check.check_range(self.name, value, self.low, self.high))


ROUND_MANTISSAS = (*range(10, 25), 25, 30, 35, 40, 45, 50, 60, 70, 80, 90)
"""The values of :func:`round_values` in one decade, times 10: 1, 1.1, ..., 2.4, 2.5, 3, 3.5, ..., 5, 6, ..., 9."""


def round_values(low, high):
    """The round numbers from ``low`` to ``high`` (both > 0) that a log slider offers, plus both ends.

    Each decade holds 1, 1.1, 1.2, ..., 2.4, then 2.5, 3, 3.5, 4, 4.5, then 5, 6, 7,
    8, 9 (times a power of ten): steps of 0.1 below 2.5, of 0.5 below 5, of 1 above,
    25 values a decade. Every value has at most two significant digits, so it reads
    and types as written (0.3, not 0.316), and the values the chapters use are all
    there: 1, 2 and 3 like the 1-2-5 series, and also 1.8, 2.1, 0.45, 0.7. One step
    changes the value by 4 % to 20 %, a little finer than 20 steps a decade below 2.5
    and a little coarser above it. Each value is the float that its decimal literal
    gives (``0.45``, not ``45 * 0.01``), so a value typed in a notebook equals one of
    them exactly.
    """
    low = float(check.check_positive("low", low))
    high = float(check.check_positive("high", high))
    _check_order(low, high)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    values = {float(f"{m}e{k - 1}") for k in range(first, last + 1) for m in ROUND_MANTISSAS}
    return sorted({v for v in values if low <= v <= high} | {low, high})


class LogSlider(_FloatRange):
    """A slider for learning rates: the round values of :func:`round_values` from ``low`` to ``high``.

    The slider steps through the options evenly, one round value a step, and shows
    each one as it is, so the rate a reader sets is the rate the explorer uses;
    ``value`` is one of the options even when it is not round. Any rate from ``low``
    to ``high`` is accepted by ``update``, ``static`` and ``player``. The widget is an
    ``ipywidgets.SelectionSlider`` (ipywidgets 7 and 8): a ``FloatLogSlider`` moves on
    a geometric grid that misses round values (0.3 would be 0.316).
    """

    def __init__(self, name, low, high, value, description=None):
        low = float(check.check_positive("low", low))
        high = float(check.check_positive("high", high))
        super().__init__(name, low, high, value, description)
        self.options = sorted({*self._round_options(), self.value})

    def _round_options(self):
        return round_values(self.low, self.high)

    def grid(self, n):
        """``n`` options spread evenly on the log scale (fewer if some coincide)."""
        n = check.check_int("n", n, 1)
        options = np.asarray(self.options, dtype=float)
        targets = np.log(np.geomspace(self.low, self.high, n))
        picks = np.abs(np.log(options)[:, None] - targets).argmin(axis=0)
        return [self.options[i] for i in sorted(set(picks.tolist()))]

    def _option_label(self, value):
        return f"{value:g}"

    def widget(self):
        import ipywidgets as w

        return w.SelectionSlider(
            options=[(self._option_label(v), v) for v in self.options],
            value=self.value,
            description=self.description,
            **SLIDER_LOOK,
        )


class FloatSlider(_FloatRange):
    """A linear slider from ``low`` to ``high`` in steps of ``step``."""

    def __init__(self, name, low, high, value, step=None, description=None):
        low = float(check.as_float_array("low", low))
        high = float(check.as_float_array("high", high))
        super().__init__(name, low, high, value, description)
        self.step = float(check.check_positive("step", step)) if step is not None else (high - low) / 100

    def grid(self, n):
        return [float(v) for v in np.linspace(self.low, self.high, n)]

    def widget(self):
        import ipywidgets as w

        return _linear_widget(self, w.FloatSlider, readout_format=".3g")


class IntSlider(Control):
    """An integer slider from ``low`` to ``high``."""

    def __init__(self, name, low, high, value, step=1, description=None):
        low, high = check.check_int("low", low), check.check_int("high", high)
        _check_order(low, high)
        super().__init__(name, check.check_int("value", value, low, high), description)
        self.low, self.high, self.step = low, high, check.check_int("step", step, 1)

    def validate(self, value):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        return check.check_int(self.name, value, self.low, self.high)

    def grid(self, n):
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, n)})

    def widget(self):
        import ipywidgets as w

        return _linear_widget(self, w.IntSlider)


class Dropdown(Control):
    """A menu. ``options`` is a list of values, or of ``(label, value)`` pairs."""

    def __init__(self, name, options, value=None, description=None):
        pairs = [o if isinstance(o, tuple) and len(o) == 2 else (str(o), o) for o in options]
        if not pairs:
            raise ValueError("options must hold at least one choice, got an empty list")
        self.options = pairs
        values = [v for _, v in pairs]
        value = values[0] if value is None else value
        check.check_choice("value", value, values)
        super().__init__(name, value, description)

    def validate(self, value):
        return check.check_choice(self.name, value, [v for _, v in self.options])

    def grid(self, n):
        return [v for _, v in self.options][:n]

    def format(self, value):
        label = next(lab for lab, v in self.options if v == value)
        return f"{self.description}: {label}"

    def widget(self):
        import ipywidgets as w

        return w.Dropdown(
            options=self.options,
            value=self.value,
            description=self.description,
            style={"description_width": "initial"},
        )


# ----------------------------------------------------------------- explorer


def axes_text(ax, x, y, **style):
    """An empty, animated text at ``(x, y)`` in axes coordinates, for a line the draw function fills in.

    The draw function writes it with ``set_text(...)``; being animated, a change
    redraws only the text (see :class:`_Canvas`). ``style`` goes to ``ax.text``.
    """
    return ax.text(x, y, "", transform=ax.transAxes, animated=True, **style)


def diverged_badge(ax, color, alpha=None, fontsize=None):
    """A hidden label in the middle of ``ax``, white on ``color``, for "diverged at step k".

    The draw function shows it with ``set_visible(True)`` and ``set_text(...)``. It is
    animated, so showing or hiding it redraws only the badge (see :class:`_Canvas`).
    """
    return axes_text(
        ax,
        0.5,
        0.5,
        ha="center",
        va="center",
        fontsize=fontsize,
        fontweight="bold",
        color="white",
        bbox={"boxstyle": "round", "facecolor": color, "edgecolor": "none", "alpha": alpha},
        visible=False,
        zorder=10,
    )


class StaticFigure(Figure):
    """A matplotlib figure that shows itself as a PNG in a notebook, pyplot or not.

    Figures made with ``Figure()`` rather than ``plt.figure()`` are displayed by the
    inline backend only once pyplot has been imported; without it, a notebook would
    print ``<Figure size ...>``. ``_repr_png_`` makes the picture appear either way
    (with the inline backend active, its own formatter takes precedence). The PNG has
    twice the figure's pixels and says the size to show it at, as the inline backend's
    ``retina`` format does: sharp on phones and high-density screens.
    """

    def _repr_png_(self):
        out = io.BytesIO()
        self.savefig(out, format="png", bbox_inches="tight", dpi=2 * self.dpi)
        png = out.getvalue()
        width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
        return png, {"width": width // 2, "height": height // 2}


@contextlib.contextmanager
def _unhinted_text():
    """Draw text without hinting: snapping each glyph to the pixel grid costs time (a
    title of 57 characters, matplotlib 3.10.9: 1.6 ms hinted, 1.3 ms not), and at these
    sizes the two look alike."""
    old = mpl.rcParams["text.hinting"]
    mpl.rcParams["text.hinting"] = "no_hinting"
    try:
        yield
    finally:
        mpl.rcParams["text.hinting"] = old


class _Canvas:
    """One figure, the state dict its draw function keeps, and a cached background.

    After the first full draw the layout is frozen. If the draw function marks the
    artists it changes with ``animated=True``, later frames only restore the cached
    background and redraw those artists (blitting); the background is redrawn
    whenever an axis' limits or scale change. Without animated artists every frame
    is a full draw, which is always correct, only slower.

    The background is a function of the axes' limits and scales (the draw function
    changes nothing else that is not animated), so the last ``BACKGROUNDS`` of them
    are kept, one per set of limits: a menu that switches back to a scene it showed
    before (a landscape, a problem) gets its background back without a full draw.
    """

    BACKGROUNDS = 8

    def __init__(self, draw, figsize, dpi):
        self.draw = draw
        self.fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.fig)
        self.state = {}
        self._frozen = False
        self._backgrounds = {}  # limits -> the figure without its animated artists
        self._animated = []

    def update(self, values):
        with _unhinted_text(), one_blas_thread():
            return self._update(values)

    def _update(self, values):
        self.draw(self.fig, self.state, **values)
        if not self._frozen:
            # Lay the figure out once, then keep the positions: a layout pass on every
            # slider move would cost more than the rest of the update.
            self.fig.canvas.draw()
            self.fig.set_layout_engine("none")
            self._frozen = True
            self._animated = sorted(
                self.fig.findobj(lambda a: a.get_animated()), key=lambda a: a.get_zorder()
            )
        self._render()
        return self.fig

    def _limits(self):
        return tuple(
            (ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale()) for ax in self.fig.get_axes()
        )

    def _render(self):
        canvas = self.fig.canvas
        if not self._animated:
            canvas.draw()
            return
        key = self._limits()
        background = self._backgrounds.pop(key, None)
        if background is None:
            canvas.draw()  # animated artists are left out of a full draw
            background = canvas.copy_from_bbox(self.fig.bbox)
            if len(self._backgrounds) >= self.BACKGROUNDS:
                del self._backgrounds[next(iter(self._backgrounds))]  # the least recently used
        else:
            canvas.restore_region(background)
        self._backgrounds[key] = background  # the most recently used last
        for artist in self._animated:
            if artist.get_visible():
                self.fig.draw_artist(artist)

    def png(self):
        """The current frame as lossless PNG bytes."""
        return encode_png(np.asarray(self.fig.canvas.buffer_rgba()))


def encode_webp(image):
    """Lossless WebP bytes of an ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8 image, for players.

    Measured on the players of chapters 0, 2 and 6 (80 dpi): lossless WebP is 2.0-2.2
    times smaller than a full-colour PNG (Pillow, level 9) with the same pixels, and
    lossy WebP at quality 90 is no smaller on line plots while it blurs their text.
    A 64-colour palette would save another quarter but merges series of similar
    colour (RMSProp and Adam in chapter 6's race), so the legend would not match.
    Effort ``method=4`` costs 0.1-0.5 s a frame; ``method=6`` saves 5 % more for
    ten times the time.
    """
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(out, format="webp", lossless=True, quality=80, method=4)
    return out.getvalue()


def _overlay(frame, base):
    """``frame`` as RGBA: its pixels where they differ from ``base``, transparent elsewhere.

    Drawn over ``base`` it gives ``frame`` exactly. A player's frames share their axes,
    ticks and backgrounds, so an overlay is a fraction of a full frame: the players of
    chapters 1, 2 and 6 shrink from 835, 256 and 695 KiB to 60, 75 and 142 KiB.
    """
    changed = np.any(frame != base, axis=-1)
    rgba = np.zeros((*frame.shape[:2], 4), dtype=np.uint8)
    rgba[changed, :3] = frame[changed]
    rgba[changed, 3] = 255
    return rgba


def encode_png(rgba):
    """Lossless PNG bytes of an ``(h, w, 4)`` uint8 RGBA image, made for speed.

    Every row is stored minus the row above (PNG's "Up" filter: a plot's flat areas
    become runs of zeros) and deflated at level 1. Pillow tries all five PNG filters
    on every row, which takes more than half of a redraw; this takes under half of
    Pillow's time for files about 10 % larger.
    """
    h, w, _ = rgba.shape
    rows = np.ascontiguousarray(rgba, dtype=np.uint8).reshape(h, 4 * w)
    raw = np.empty((h, 1 + 4 * w), dtype=np.uint8)
    raw[:, 0] = 2  # the filter type of each row: Up
    raw[0, 1:] = rows[0]
    np.subtract(rows[1:], rows[:-1], out=raw[1:, 1:])  # bytes modulo 256, as PNG defines it

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8 bits per channel, RGBA, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


class Explorer:
    """A draw function and its controls; see the module docstring for the pattern.

    Parameters
    ----------
    draw : callable
        ``draw(fig, state, **values)``; creates its artists when ``state`` is empty,
        afterwards only updates them.
    controls : sequence of Control
        One per keyword of ``draw`` that a reader may change.
    fixed : dict, optional
        Further keywords passed to ``draw`` unchanged.
    figsize : (float, float)
        Size of one panel group in inches; ``dpi`` its resolution on screen.
    title : str, optional
        A line shown above the controls in :meth:`show`.
    prerender : sequence of str, optional
        Menus (:class:`Dropdown` names) whose every option changes the axes' limits:
        when the live figure is made, it is drawn once at each option, so that
        switching to one later restores a kept background instead of redrawing the
        whole figure (see :class:`_Canvas`; at most ``_Canvas.BACKGROUNDS - 1`` options in all).
    """

    def __init__(self, draw, controls, *, fixed=None, figsize=(8.0, 3.2), dpi=80, title=None, prerender=()):
        if not callable(draw):
            raise ValueError(f"draw must be callable, got {draw!r}")
        controls = list(controls)
        for c in controls:
            if not isinstance(c, Control):
                raise ValueError(f"controls must be Control objects (LogSlider, ...), got {c!r}")
        names = [c.name for c in controls]
        if len(set(names)) != len(names):
            raise ValueError(f"control names must be unique, got {names}")
        self.draw = draw
        self.controls = {c.name: c for c in controls}
        self.fixed = dict(fixed or {})
        self.figsize = tuple(float(s) for s in figsize)
        self.dpi = check.check_int("dpi", dpi, 20, 300)
        self.title = title
        self.prerender = list(prerender)
        menus = sorted(k for k, c in self.controls.items() if isinstance(c, Dropdown))
        for name in self.prerender:
            if name not in menus:
                raise ValueError(f"prerender must name Dropdown controls of {menus}, got {name!r}")
        options = sum(len(self.controls[name].options) for name in self.prerender)
        if options > _Canvas.BACKGROUNDS - 1:  # one background stays free for the live scene
            raise ValueError(
                f"prerender: {self.prerender} have {options} options in all, "
                f"at most {_Canvas.BACKGROUNDS - 1} can be kept"
            )
        self._live = None

    def __repr__(self):
        return f"Explorer(controls={list(self.controls)})"

    @property
    def defaults(self):
        """The starting value of every control."""
        return {name: c.value for name, c in self.controls.items()}

    def _resolve(self, values):
        unknown = set(values) - set(self.controls) - set(self.fixed)
        if unknown:
            raise ValueError(
                f"unknown control(s) {sorted(unknown)}; this explorer has {sorted(self.controls)}"
            )
        out = {**self.fixed, **self.defaults}
        for name, v in values.items():
            out[name] = self.controls[name].validate(v) if name in self.controls else v
        return out

    def _label(self, values, keys):
        return ",  ".join(self.controls[k].format(values[k]) for k in keys if k in self.controls)

    # --- one figure, redrawn in place

    def update(self, **values):
        """Compute and redraw at ``values`` (others at their defaults); return the figure."""
        values = self._resolve(values)
        if self._live is None:
            self._live = _Canvas(self.draw, self.figsize, self.dpi)
            if self.prerender:
                self._live.update(values)  # the layout is frozen at the values asked for
            for name in self.prerender:
                for _, option in self.controls[name].options:
                    self._live.update({**values, name: option})
        return self._live.update(values)

    def png(self, **values):
        """The figure at ``values`` as PNG bytes."""
        self.update(**values)
        return self._live.png()

    def latency(self, values_list, warmup=1):
        """Time update + render to PNG over ``values_list`` (dicts); p50/p95/max in ms."""
        values_list = list(values_list)
        if not values_list:
            raise ValueError("values_list must hold at least one dict of control values")
        for v in values_list[:warmup]:
            self.png(**v)
        times = []
        for v in values_list:
            t0 = time.perf_counter()
            self.png(**v)
            times.append((time.perf_counter() - t0) * 1e3)
        t = np.array(times)
        return {
            "p50": float(np.percentile(t, 50)),
            "p95": float(np.percentile(t, 95)),
            "max": float(t.max()),
            "n": len(t),
        }

    # --- in a kernel

    def show(self, display=True):
        """Controls + live figure (ipywidgets 7 and 8). Returns the ``ipywidgets.VBox``.

        Outside a kernel (on the website) the output falls back to a short note;
        the static figure and the player next to it show what the sliders do.
        """
        import ipywidgets as w

        image = w.Image(value=self.png(), format="png", layout=w.Layout(max_width="100%"))
        status = w.HTML(value="")
        controls = {name: c.widget() for name, c in self.controls.items()}

        def redraw(change=None):
            # One redraw per change of a control, and one message to the browser: the new
            # picture. The line under it speaks only when a redraw fails (say, a value
            # the draw function refuses), and is cleared by the next one that works.
            values = {name: wd.value for name, wd in controls.items()}
            try:
                image.value = self.png(**values)
            except Exception as exc:  # keep the widget alive, say what went wrong
                name, text = _html.escape(type(exc).__name__), _html.escape(str(exc))
                status.value = f"<b>error:</b> {name}: {text}"
            else:
                if status.value:
                    status.value = ""

        for wd in controls.values():
            wd.observe(redraw, names="value")
        rows = []
        if self.title:
            rows.append(w.HTML(value=f"<b>{_html.escape(self.title)}</b>"))
        rows += [*controls.values(), image, status]
        box = w.VBox(rows)
        if display:
            from IPython.display import display as _display

            bundle = {
                "application/vnd.jupyter.widget-view+json": {
                    "version_major": 2,
                    "version_minor": 0,
                    "model_id": box.model_id,
                },
                "text/plain": _FALLBACK_TEXT,
                "text/html": f"<p><em>{_html.escape(_FALLBACK_TEXT)}</em></p>",
            }
            _display(bundle, raw=True)
            return None
        return box

    # --- without a kernel

    def static(self, settings, ncols=None, titles=None, scale=0.9, dpi=100):
        """Small multiples: the draw function at each dict of ``settings``, one figure.

        Each panel is titled with the settings that differ between panels (or with
        ``titles``). By default as many panels share a row as fit in a page width
        of about 10 inches, so a two-panel explorer stacks its small multiples one
        per row. Returns a :class:`StaticFigure` (a matplotlib ``Figure`` that a notebook
        shows as a picture).
        """
        settings = [dict(s) for s in settings]
        if not settings:
            raise ValueError("settings must hold at least one dict of control values")
        n = len(settings)
        w, h = self.figsize
        if ncols is None:
            ncols = max(1, min(n, int(10 // (w * scale))))
        ncols = check.check_int("ncols", ncols, 1)
        nrows = math.ceil(n / ncols)
        resolved = [self._resolve(s) for s in settings]
        varying = [k for k in self.controls if len({repr(r[k]) for r in resolved}) > 1]
        if titles is not None and len(titles) != n:
            raise ValueError(f"titles must have one entry per setting ({n}), got {len(titles)}")
        check.check_int("dpi", dpi, 20, 300)
        fig = StaticFigure(
            figsize=(w * ncols * scale, (h * scale + 0.35) * nrows), dpi=dpi, layout="constrained"
        )
        FigureCanvasAgg(fig)
        subs = np.atleast_2d(fig.subfigures(nrows, ncols, squeeze=False))
        for i, sub in enumerate(subs.ravel()):
            if i >= n:
                continue
            self.draw(sub, {}, **resolved[i])
            label = (
                titles[i] if titles is not None else self._label(resolved[i], varying or list(self.controls))
            )
            sub.suptitle(label, fontsize="medium", fontweight="bold")
        return fig

    def player(self, control, values=None, n=15, dpi=80, interval_ms=450, **fixed):
        """A kernel-free player: ``control`` swept over ``values`` (or ``n`` values).

        Frames are rendered ahead of time at ``dpi`` and embedded once each, as base64
        lossless WebP (full colour) in a self-contained HTML snippet: the start frame in
        full and each other frame as an overlay of the pixels that differ from it (see
        :func:`_overlay`). The snippet holds a caption that says
        what is swept, a Play button that stops at the last frame, and a native range
        input with the first and last values at its ends whose ``aria-valuetext`` is the
        value shown. Returns ``IPython.display.HTML``.
        """
        from IPython.display import HTML

        if control not in self.controls:
            raise ValueError(f"control must be one of {sorted(self.controls)}, got {control!r}")
        ctl = self.controls[control]
        values = ctl.grid(check.check_int("n", n, 2, MAX_FRAMES)) if values is None else list(values)
        if not 1 <= len(values) <= MAX_FRAMES:
            raise ValueError(f"values must hold between 1 and {MAX_FRAMES} frames, got {len(values)}")
        check.check_int("dpi", dpi, 20, 200)
        canvas = _Canvas(self.draw, self.figsize, dpi)
        images, labels = [], []
        for v in values:
            resolved = self._resolve({**fixed, control: v})
            canvas.update(resolved)
            images.append(np.asarray(canvas.fig.canvas.buffer_rgba())[..., :3].copy())
            labels.append(ctl.format(resolved[control]))
        start = self._nearest(ctl, values, fixed.get(control, ctl.value))
        # The start frame in full, every other frame as what changes over it.
        frames = [
            encode_webp(image if i == start else _overlay(image, images[start]))
            for i, image in enumerate(images)
        ]
        frames = [base64.b64encode(f).decode("ascii") for f in frames]
        height, width = images[start].shape[:2]
        return HTML(_player_html(frames, labels, start, ctl.description, interval_ms, (width, height)))

    @staticmethod
    def _nearest(control, values, target):
        """The index of the value in ``values`` closest to ``target`` (log distance for rates)."""
        if isinstance(control, Dropdown):
            return values.index(target) if target in values else 0
        v = np.asarray(values, dtype=float)
        if isinstance(control, LogSlider):
            return int(np.argmin(np.abs(np.log(v) - math.log(target))))
        return int(np.argmin(np.abs(v - target)))


_FALLBACK_TEXT = (
    "Interactive explorer: run this page in Jupyter, Binder or Colab to move the sliders. "
    "Without a kernel, the figures and the player next to this cell show what the sliders do."
)


def _value_text(label, name):
    """The value part of a control's label: ``"0.067"`` from ``"learning rate = 0.067"``."""
    for sep in (" = ", ": "):
        if label.startswith(name + sep):
            return label[len(name + sep) :]
    return label


PLAYER_CSS = """
.lrcourse-player-controls{color:inherit}
.lrcourse-player input[type=range]{accent-color:var(--pst-color-primary,#0072b2)}
.lrcourse-player button{color:inherit;background:transparent;border:1px solid currentColor;border-radius:0.3em}
.lrcourse-player-caption,.lrcourse-player-end{opacity:0.85}
html[data-theme=dark] .lrcourse-player .lrcourse-player-overlay{background:none}
html[data-theme=dark] .lrcourse-player-controls{color-scheme:dark}
html[data-theme=dark] .bd-content div.cell_output div.output.text_html:has(>.lrcourse-player){background:none;color:inherit;padding:0}
@media (max-width:40em){.lrcourse-player-range{order:3;flex-basis:100%!important}}
"""
"""The player's stylesheet: theme colours (with defaults) in light and dark mode, the slider
on a line of its own on narrow screens. The inline styles alone give a working player.

In dark mode pydata-sphinx-theme sets every HTML output on a light box (for outputs made
for a white page); the player's controls follow the dark page instead (a dark track, light
text), so its output box is made transparent, and its frames keep the theme's dimming."""


def _player_html(frames, labels, start, name, interval_ms, size):
    """The player's HTML: each distinct frame stored once (the start frame only in the base ``<img>``).

    Every frame is shown in an ``<img>`` laid over the base one: an overlay of the pixels
    that change, or the start frame itself. The frames are decoded ahead once the player
    comes near the screen (or is touched), not while the page loads. On the website
    ``var frames`` is instead the address of a script that holds them (the build moves
    them out of the page, ``scripts/sphinx_weight.py``); it is loaded at that moment.
    ``size`` is the frames' ``(width, height)`` in pixels.
    """
    uid = "lrp-" + hashlib.sha1("".join(frames).encode()).hexdigest()[:10]
    texts = [_value_text(label, name) for label in labels]
    low, high = texts[0], texts[-1]
    sweep = f"{name} from {low} to {high}" if len(texts) > 1 else f"{name} at {low}"
    caption = _html.escape(f"Player: {sweep}, {len(frames)} frames. Move the slider or press Play.")
    e = _html.escape
    # Each distinct frame once: the start frame only in the <img>, a repeat as the index of its first.
    first = {}
    for i in [start, *range(len(frames))]:
        first.setdefault(frames[i], i)
    stored = [None if i == start else first[f] if first[f] != i else f for i, f in enumerate(frames)]
    js_frames = json.dumps(stored)
    js_labels = json.dumps(labels)
    js_texts = json.dumps(texts)
    play = '<span aria-hidden="true">&#9654;</span> Play'
    return f"""<div id="{uid}" class="lrcourse-player" role="group" aria-labelledby="{uid}-caption" style="max-width:100%;margin:0.5em 0">
<style>{PLAYER_CSS}</style>
<p id="{uid}-caption" class="lrcourse-player-caption" style="margin:0 0 0.3em;font-size:0.9em">{caption}</p>
<div class="lrcourse-player-frame" style="position:relative;width:fit-content;max-width:100%">
<img class="lrcourse-player-base" src="data:image/webp;base64,{frames[start]}" alt="{e(labels[start])}" width="{size[0]}" height="{size[1]}" style="padding:0;max-width:100%;height:auto;display:block">
<img class="lrcourse-player-overlay" alt="" style="padding:0;position:absolute;left:0;top:0;width:100%;height:100%;background:none">
</div>
<div class="lrcourse-player-controls" style="display:flex;flex-wrap:wrap;align-items:center;gap:0.2em 0.6em;font-family:sans-serif;font-size:0.9em;max-width:640px">
<button type="button" style="min-width:5.5em;min-height:44px;font:inherit;cursor:pointer">{play}</button>
<span class="lrcourse-player-range" style="display:flex;flex:1 1 20em;align-items:center;gap:0.4em;min-width:0">
<span class="lrcourse-player-end lrcourse-player-min" aria-hidden="true">{e(low)}</span>
<input type="range" min="0" max="{len(frames) - 1}" step="1" value="{start}" aria-label="{e(name)}" aria-valuetext="{e(texts[start])}" style="flex:1;min-width:0;height:44px;margin:0;cursor:pointer">
<span class="lrcourse-player-end lrcourse-player-max" aria-hidden="true">{e(high)}</span>
</span>
<span class="lrcourse-player-value" style="min-width:11em">{e(labels[start])}</span>
</div>
<script>
(function () {{
  var root = document.getElementById("{uid}");
  var frames = {js_frames};
  var labels = {js_labels};
  var texts = {js_texts};
  var img = root.querySelector(".lrcourse-player-base"), range = root.querySelector("input"),
      overlay = root.querySelector(".lrcourse-player-overlay"),
      out = root.querySelector(".lrcourse-player-value"), button = root.querySelector("button"),
      timer = null, last = labels.length - 1, ready = null;
  function decode(list) {{
    var urls = [];
    for (var k = 0; k < list.length; k++) {{
      urls.push(typeof list[k] === "string" ? "data:image/webp;base64," + list[k] : null);
    }}
    urls[{start}] = img.src;
    for (k = 0; k < urls.length; k++) {{
      if (typeof list[k] === "number") urls[k] = urls[list[k]];
      new Image().src = urls[k];  // decoded ahead, so a move shows no gap
    }}
    frames = urls;
  }}
  function load() {{  // the frames, once
    if (!ready) ready = new Promise(function (done) {{
      if (typeof frames !== "string") {{ decode(frames); done(); return; }}
      var script = document.createElement("script");
      script.src = frames;
      script.onload = function () {{ decode(window.lrcoursePlayers["{uid}"]); done(); }};
      document.head.appendChild(script);
    }});
    return ready;
  }}
  function show(i) {{
    range.value = i; range.setAttribute("aria-valuetext", texts[i]); out.textContent = labels[i];
    img.alt = labels[i];
    load().then(function () {{ if (+range.value === i) overlay.src = frames[i]; }});
  }}
  function stop() {{
    clearInterval(timer); timer = null; button.innerHTML = '{play}';
  }}
  overlay.src = img.src;
  if ("IntersectionObserver" in window) {{
    var near = new IntersectionObserver(function (seen) {{
      if (seen.some(function (s) {{ return s.isIntersecting; }})) {{ near.disconnect(); load(); }}
    }}, {{ rootMargin: "50% 0px" }});
    near.observe(root);
  }} else {{
    load();
  }}
  root.addEventListener("pointerdown", load);
  root.addEventListener("focusin", load);
  range.addEventListener("input", function () {{ show(+range.value); }});
  button.addEventListener("click", function () {{
    if (timer) {{ stop(); return; }}
    if (+range.value >= last) show(0);
    button.innerHTML = '<span aria-hidden="true">&#10074;&#10074;</span> Pause';
    timer = setInterval(function () {{
      show(Math.min(+range.value + 1, last));
      if (+range.value >= last) stop();
    }}, {int(interval_ms)});
  }});
}})();
</script>
</div>"""


# ----------------------------------------------------------------- drawing helpers

# Used until lrcourse.plotting offers artist-level helpers; colours follow its palette.
