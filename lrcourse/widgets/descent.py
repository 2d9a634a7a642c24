"""Explorers of gradient descent on the course's landscapes (chapters 1 and 2)."""

from __future__ import annotations

import numpy as np

from lrcourse import _validate as check
from lrcourse import optimizers as _optimizers
from lrcourse.descent import descend
from lrcourse.widgets.core import Explorer, FloatSlider, LogSlider, diverged_badge

_PATH = "#d62728"
_MIN = "#ffffff"
_LOSS = "#1f77b4"
_BAD = "#b2182b"


def _levels(Z, n=18):
    """Contour levels at quantiles of ``Z``: even spacing by area, whatever the range."""
    q = np.quantile(Z[np.isfinite(Z)], np.linspace(0.0, 0.97, n))
    return np.unique(q)


def _make_optimizer(name, lr, hyper):
    check.check_choice("optimizer_name", name, ("sgd", "adagrad", "rmsprop", "adam", "adamw"))
    return getattr(_optimizers, name)(lr=lr, **hyper)


def _check_settings(objective, optimizer_name, lr, hyper, steps, divergence_factor, loss_scale):
    """Check the settings both explorers share, failing early on a bad optimizer name or
    hyperparameter; return ``steps`` and the scale of the loss panel."""
    steps = check.check_int("steps", steps, 1, 5000)
    _make_optimizer(optimizer_name, lr, hyper)
    check.check_positive("divergence_factor", divergence_factor)
    return steps, _loss_scale(objective, loss_scale)


def _loss_scale(objective, scale):
    check.check_choice("loss_scale", scale, ("auto", "log", "linear"))
    if scale != "auto":
        return scale
    if len(objective.minima) and np.min(objective.value(objective.minima)) >= 0:
        return "log"
    return "linear"


def _loss_limits(scale, f0, low, high):
    """Fixed y-limits for a loss panel, so curves at different slider positions compare.

    Log scale: ten decades below the decade above the starting loss ``f0``; linear:
    the range ``[low, high]`` of the landscape, padded.
    """
    if scale == "log":
        top = 10.0 ** (np.ceil(np.log10(max(abs(f0), 1e-12))) + 1)
        return top * 1e-10, top
    pad = 0.08 * (high - low) if high > low else 0.5
    return low - pad, high + pad


def _finish_panels(ax, ax_loss, state, title, steps, scale, limits, **line):
    """Both panels' titles and "diverged" badges (shown by :func:`_show_losses`), and on
    ``ax_loss`` the loss per step on fixed ``limits``, ``line`` styling its curve."""
    ax.set_title(title, fontsize="medium")
    state["bad"] = diverged_badge(ax, _BAD, alpha=0.9, fontsize="large")
    (state["loss"],) = ax_loss.plot([], [], color=_LOSS, lw=1.6, animated=True, **line)
    ax_loss.set_yscale(scale)
    ax_loss.set(xlim=(0, steps), ylim=limits, xlabel="step $t$", ylabel="loss $f(x_t)$")
    ax_loss.grid(True, alpha=0.3)
    state["info"] = ax_loss.set_title("", fontsize="medium", animated=True)
    state["bad_loss"] = diverged_badge(ax_loss, _BAD, alpha=0.9, fontsize="large")


def _show_losses(state, res, scale):
    """Draw the loss per step of ``res``, show or hide the "diverged at step k" badges of both
    panels; return whether the run diverged."""
    losses = res.losses
    state["loss"].set_data(np.arange(len(losses)), np.maximum(losses, 1e-300) if scale == "log" else losses)
    diverged = bool(res.diverged)
    for key in ("bad", "bad_loss"):
        state[key].set_visible(diverged)
        state[key].set_text(f"diverged at step {int(res.diverged_at)}" if diverged else "")
    return diverged


# ----------------------------------------------------------------- explorers


def descent_explorer(
    objective,
    x0,
    optimizer_name="sgd",
    steps=50,
    lr=0.05,
    lr_range=(1e-3, 1.0),
    start_sliders=False,
    loss_scale="auto",
    title=None,
    divergence_factor=1e6,
    **hyper,
):
    """Gradient descent on a 2-D landscape, with a learning-rate slider.

    Left: the contour of ``objective`` with the trajectory from ``x0``; right: the
    loss per step. A run that blows up is marked "diverged at step k" (its loss
    exceeded ``divergence_factor`` times the starting loss, as in
    :func:`~lrcourse.descent.descend`). With ``start_sliders=True`` two more sliders move the starting point. Extra keywords
    (``momentum=0.9``, ...) go to the optimizer. A 1-D objective is handed to
    :func:`descent_explorer_1d`.
    """
    if objective.dim == 1:
        return descent_explorer_1d(
            objective,
            x0,
            optimizer_name,
            steps,
            lr,
            lr_range,
            loss_scale=loss_scale,
            title=title,
            divergence_factor=divergence_factor,
            **hyper,
        )
    if objective.dim != 2:
        raise ValueError(f"objective must be 1-D or 2-D, got dim={objective.dim}")
    x0 = np.asarray(check.as_float_array("x0", x0), dtype=float)
    if x0.shape != (2,):
        raise ValueError(f"x0 must be a point (x, y) of shape (2,), got shape {x0.shape}")
    steps, scale = _check_settings(objective, optimizer_name, lr, hyper, steps, divergence_factor, loss_scale)
    X, Y, Z = objective.grid(150)  # computed once, shared by every redraw
    levels = _levels(Z)
    z_low, z_high = float(Z.min()), float(Z.max())
    (bx0, bx1), (by0, by1) = objective.bounds
    # Fixed loss limits, so a slider move redraws only the paths (see _Canvas). With
    # start sliders they follow the landscape; otherwise the fixed start.
    f_top = z_high if start_sliders else float(objective.value(x0))
    loss_limits = _loss_limits(scale, f_top, z_low, z_high)

    def draw(fig, state, lr, x_start=x0[0], y_start=x0[1]):
        start = np.array([x_start, y_start])
        if not state:
            ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.0, 1.15])
            ax.contourf(X, Y, Z, levels=levels, cmap="viridis", alpha=0.85, extend="max")
            ax.contour(X, Y, Z, levels=levels, colors="k", linewidths=0.3, alpha=0.4)
            if len(objective.minima):
                m = objective.minima
                ax.plot(m[:, 0], m[:, 1], "*", ms=11, color=_MIN, mec="k", mew=0.6, zorder=5)
            if len(objective.saddles):
                s = objective.saddles
                ax.plot(s[:, 0], s[:, 1], "X", ms=8, color="w", mec="k", mew=0.6, zorder=5)
            (state["path"],) = ax.plot([], [], "-o", color=_PATH, ms=2.5, lw=1.2, zorder=6, animated=True)
            (state["start"],) = ax.plot([], [], "o", color="w", mec="k", ms=7, zorder=7, animated=True)
            (state["end"],) = ax.plot([], [], "s", color=_PATH, mec="k", ms=6, zorder=7, animated=True)
            ax.set(xlim=(bx0, bx1), ylim=(by0, by1), xlabel="$x$", ylabel="$y$", aspect="auto")
            _finish_panels(ax, ax_loss, state, title or objective.name, steps, scale, loss_limits)
        optimizer = _make_optimizer(optimizer_name, lr, hyper)
        res = descend(objective, start, optimizer, steps, divergence_factor=divergence_factor)
        path = res.path
        ok = np.isfinite(path).all(axis=-1)
        state["path"].set_data(path[ok, 0], path[ok, 1])
        state["start"].set_data([start[0]], [start[1]])
        last = path[ok][-1]
        state["end"].set_data([last[0]], [last[1]])
        diverged = _show_losses(state, res, scale)
        final = "—" if diverged else f"{res.final_loss:.3g}"
        state["info"].set_text(f"{optimizer_name}, lr = {lr:.3g}: final loss {final}")

    controls = [LogSlider("lr", *lr_range, lr, description="learning rate")]
    if start_sliders:
        controls += [
            FloatSlider("x_start", bx0, bx1, float(x0[0]), description="start x"),
            FloatSlider("y_start", by0, by1, float(x0[1]), description="start y"),
        ]
    return Explorer(draw, controls, figsize=(8.0, 3.3), title=title)


def descent_explorer_1d(
    objective,
    x0,
    optimizer_name="sgd",
    steps=40,
    lr=0.05,
    lr_range=(1e-3, 1.0),
    start_slider=True,
    loss_scale="linear",
    title=None,
    divergence_factor=1e6,
    **hyper,
):
    """Gradient descent on a 1-D curve (``two_valleys``, ``parabola``) with a rate slider.

    Left: the curve with every iterate on it, joined in order, so overshooting
    shows as a zig-zag; right: the loss per step. A run that blows up is marked
    "diverged at step k" (its loss exceeded ``divergence_factor`` times the starting loss).
    With ``start_slider=True`` a second slider moves ``x0``.
    """
    if objective.dim != 1:
        raise ValueError(f"objective must be 1-D, got dim={objective.dim} (use descent_explorer)")
    x0 = float(check.as_float_array("x0", x0).reshape(-1)[0])
    steps, scale = _check_settings(objective, optimizer_name, lr, hyper, steps, divergence_factor, loss_scale)
    ((b0, b1),) = objective.bounds
    xs = np.linspace(b0, b1, 400)
    fs = objective.value(xs[:, None])
    pad = 0.1 * (fs.max() - fs.min())
    cmap = "plasma"
    f_top = fs.max() if start_slider else float(objective.value(np.array([x0])))  # see above
    loss_limits = _loss_limits(scale, f_top, fs.min(), fs.max())

    def draw(fig, state, lr, x_start=x0):
        if not state:
            ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.2, 1.0])
            ax.plot(xs, fs, color="0.25", lw=1.5)
            m = objective.minima[:, 0]
            ax.plot(
                m, objective.value(objective.minima), "*", ms=11, color="gold", mec="k", mew=0.6, zorder=5
            )
            (state["zigzag"],) = ax.plot([], [], "-", color=_PATH, lw=0.8, alpha=0.6, zorder=6, animated=True)
            state["dots"] = ax.scatter(
                [], [], c=[], cmap=cmap, vmin=0, vmax=steps, s=22, ec="k", lw=0.3, zorder=7, animated=True
            )
            (state["start"],) = ax.plot([], [], "o", color="w", mec="k", ms=8, zorder=8, animated=True)
            ax.set(xlim=(b0, b1), ylim=(fs.min() - pad, fs.max() + pad), xlabel="$x$", ylabel="$f(x)$")
            _finish_panels(
                ax, ax_loss, state, title or objective.name, steps, scale, loss_limits, marker="o", ms=2
            )
        optimizer = _make_optimizer(optimizer_name, lr, hyper)
        res = descend(objective, [x_start], optimizer, steps, divergence_factor=divergence_factor)
        x = res.path[:, 0]
        ok = np.isfinite(x)
        x, f = x[ok], res.losses[ok]
        state["zigzag"].set_data(x, f)
        state["dots"].set_offsets(np.column_stack([x, f]))
        state["dots"].set_array(np.arange(len(x), dtype=float))
        state["start"].set_data([x[0]], [f[0]])
        diverged = _show_losses(state, res, scale)
        end = "—" if diverged else f"x = {x[-1]:.3g}, loss {f[-1]:.3g}"
        state["info"].set_text(f"{optimizer_name}, lr = {lr:.3g}: {end}")

    controls = [LogSlider("lr", *lr_range, lr, description="learning rate")]
    if start_slider:
        controls.append(FloatSlider("x_start", b0, b1, x0, description="start x"))
    return Explorer(draw, controls, figsize=(8.0, 3.0), title=title)
