r"""Models in plain numpy with hand-written backpropagation.

Four models, each an object with the same methods:

- :class:`LinearRegression`: :math:`\hat y = x^\top w + b`, mean squared error.
- :class:`LogisticRegression`: :math:`p = \sigma(x^\top w + b)`, binary cross-entropy.
- :class:`SoftmaxRegression`: :math:`p = \operatorname{softmax}(x^\top W + b)`, cross-entropy.
- :class:`MLP`: one or more hidden layers (ReLU or tanh), softmax cross-entropy
  (or the squared error on one-hot targets) for classification or mean squared
  error for regression; its :meth:`MLP.hvp` multiplies the Hessian by a vector.

The methods::

    params = model.init(seed=0)                  # a dict of arrays, e.g. {"w": ..., "b": ...}
    loss = model.loss(params, X, y)              # a float
    loss, grads = model.loss_and_grad(params, X, y)   # grads: same dict keys as params
    model.predict(params, X)                     # values, or class labels
    model.accuracy(params, X, y)                 # classifiers only
    model.evaluate(params, X, y)                 # (loss, accuracy or None)
    model.n_params                               # number of trainable numbers

``params`` is a plain dict, so the optimizers of :mod:`lrcourse.optimizers`
update it unchanged. Every model accepts an ``l2`` penalty
:math:`\tfrac{\lambda}{2}\sum W^2` on its weights (not on its biases).

**Sweeps.** ``model.init(seed, sweep=(S,))`` gives every parameter a leading
axis of length ``S`` (the same starting values ``S`` times). ``X`` and ``y``
stay shared, and ``loss`` then returns shape ``(S,)``: together with an
optimizer whose ``lr`` has shape ``(S,)`` this trains ``S`` learning rates in
one call. The matrix products are written so that leading axes just broadcast
(``w @ X.T`` rather than ``X @ w``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrcourse import _validate as check
from lrcourse._perturb import perturbed
from lrcourse.data import check_xy
from lrcourse.tree import tree_leaves

# ----------------------------------------------------------------- stable building blocks


def sigmoid(z):
    r"""The logistic function :math:`\sigma(z) = 1/(1+e^{-z}) = \exp(-\log(1+e^{-z}))`.

    Computed as ``exp(-logaddexp(0, -z))``, which never overflows.
    """
    return np.exp(-np.logaddexp(0.0, -z))


def logsumexp(z, axis=-1):
    r""":math:`\log\sum_j e^{z_j}` along ``axis``, computed as :math:`m + \log\sum_j e^{z_j - m}`, :math:`m = \max_j z_j`.

    Subtracting the maximum keeps every exponent :math:`\le 0`, so nothing overflows.
    """
    m = np.max(z, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(z - m), axis=axis))


def log_softmax(z, axis=-1):
    r""":math:`\log\operatorname{softmax}(z)_j = z_j - \log\sum_k e^{z_k}` (stable, see :func:`logsumexp`)."""
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(z, axis=-1):
    r""":math:`\operatorname{softmax}(z)_j = e^{z_j} / \sum_k e^{z_k}`, computed as ``exp(log_softmax(z))``."""
    return np.exp(log_softmax(z, axis=axis))


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_grad(z, a):
    return (z > 0).astype(np.float64)


def _tanh_grad(z, a):
    return 1.0 - a * a  # a = tanh(z), from the forward pass


def _relu_second(z, a, slope):
    return 0.0  # wherever the second derivative exists


def _tanh_second(z, a, slope):
    return -2.0 * a * slope


# name: (function, derivative at z given a = function(z), std of the initial weights for fan-in n)
ACTIVATIONS = {
    "relu": (_relu, _relu_grad, lambda n: np.sqrt(2.0 / n)),  # He initialisation
    "tanh": (np.tanh, _tanh_grad, lambda n: np.sqrt(1.0 / n)),  # LeCun initialisation
}
# name: second derivative at z, given a = function(z) and the first derivative
SECOND_DERIVATIVES = {"relu": _relu_second, "tanh": _tanh_second}


def _T(A):
    """Transpose the last two axes (the sweep axes in front are left alone)."""
    return np.swapaxes(A, -1, -2)


# ----------------------------------------------------------------- shared checks


def _sweep_shape(sweep):
    sweep = (sweep,) if isinstance(sweep, (int, np.integer)) else tuple(sweep)
    for s in sweep:
        check.check_int("sweep", s, 1)
    return sweep


def _repeat(arrays, sweep):
    """The same initial arrays for every member of the sweep."""
    return {k: np.broadcast_to(a, sweep + a.shape).copy() for k, a in arrays.items()}


class _Model:
    """Shared input checks. Subclasses set ``n_features``, ``l2`` and ``task``."""

    task = "regression"

    def _check_X(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n_samples, {self.n_features}), got shape {X.shape}")
        return X

    def _check_Xy(self, X, y):
        X = self._check_X(X)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise ValueError(f"y must have shape ({len(X)},) to match X, got shape {y.shape}")
        if self.task == "classification":
            y = y.astype(np.int64, copy=False)
        return X, y

    def validate(self, X, y, name="X"):
        """Full check of a data set for this model (shapes, NaN, valid targets); returns ``(X, y)``.

        Run once per data set (training does); the per-call checks in ``loss``
        only look at shapes.
        """
        X, y = check_xy(X, y, name=name)
        yname = "y" + name[1:]
        if X.shape[1] != self.n_features:
            raise ValueError(f"{name} must have {self.n_features} features (columns), got {X.shape[1]}")
        if self.task == "classification":
            labels = self._n_labels
            if not (np.all(y == np.round(y)) and y.min() >= 0 and y.max() < labels):
                raise ValueError(
                    f"{yname} must hold integer class labels in [0, {labels - 1}], got values in "
                    f"[{y.min()}, {y.max()}]"
                )
            y = y.astype(np.int64)
        else:
            y = y.astype(np.float64)
        return X, y

    def _penalty(self, W, axis):
        r""":math:`\tfrac{\lambda}{2}\sum W^2` over the weight axes (not the sweep axes)."""
        if self.l2 == 0:
            return 0.0
        return 0.5 * self.l2 * np.sum(W * W, axis=axis)

    def _decayed(self, grad, W):
        r"""``grad`` plus the penalty's gradient :math:`\lambda W` (nothing to add when :math:`\lambda = 0`)."""
        return grad + self.l2 * W if self.l2 else grad

    def accuracy(self, params, X, y):
        """Fraction of correctly classified rows: :math:`\\frac1n\\sum_i [\\hat y_i = y_i]` (shape ``sweep``)."""
        if self.task != "classification":
            raise ValueError(f"accuracy needs a classifier, {type(self).__name__} is a regression model")
        X, y = self._check_Xy(X, y)
        return np.mean(self.predict(params, X) == y, axis=-1)

    def evaluate(self, params, X, y):
        """``(loss, accuracy)`` on a whole data set; the accuracy is ``None`` for a regression model."""
        accuracy = self.accuracy(params, X, y) if self.task == "classification" else None
        return self.loss(params, X, y), accuracy

    @property
    def n_params(self):
        """The number of trainable numbers (per member of a sweep)."""
        return sum(leaf.size for leaf in tree_leaves(self.init(0)))


def _mean(a):
    """``np.mean(a, axis=-1)``, the same numbers (a sum, then one division) without its overhead."""
    return np.add.reduce(a, axis=-1) / a.shape[-1]


def _check_l2(l2):
    return float(check.check_nonnegative("l2", l2))


# ----------------------------------------------------------------- linear models


@dataclass
class _LinearModel(_Model):
    """A weight vector ``w`` and a bias ``b``, both starting at zero: :math:`Xw + b`."""

    n_features: int
    l2: float = 0.0

    def __post_init__(self):
        self.n_features = check.check_int("n_features", self.n_features, 1)
        self.l2 = _check_l2(self.l2)

    def init(self, seed=0, sweep=()):
        """Zero weights and bias (``seed`` is accepted for a uniform interface; the loss is convex)."""
        return _repeat({"w": np.zeros(self.n_features), "b": np.zeros(())}, _sweep_shape(sweep))

    def _linear(self, params, X):
        """:math:`Xw + b`, shape ``(*sweep, n)``, for a checked ``X``."""
        return params["w"] @ X.T + params["b"][..., None]


@dataclass
class LinearRegression(_LinearModel):
    r"""Linear regression :math:`\hat y = x^\top w + b` with the mean squared error.

    .. math::

        L(w, b) = \frac1n \sum_{i=1}^n (\hat y_i - y_i)^2 + \frac{\lambda}{2}\lVert w\rVert^2, \qquad
        \nabla_w L = \frac2n X^\top r + \lambda w, \quad \frac{\partial L}{\partial b} = \frac2n \sum_i r_i

    with residuals :math:`r = \hat y - y`. The Hessian is :math:`\frac2n X^\top X + \lambda I`:
    gradient descent is stable for :math:`\eta < 2/\lambda_{\max}` of it.
    Parameters ``{"w": (n_features,), "b": ()}``, initialised at zero.
    """

    def predict(self, params, X):
        r""":math:`\hat y = X w + b`, shape ``(*sweep, n)``."""
        return self._linear(params, self._check_X(X))

    def loss(self, params, X, y):
        r""":math:`\frac1n\sum_i (\hat y_i - y_i)^2 + \frac\lambda2 \lVert w\rVert^2`."""
        X, y = self._check_Xy(X, y)
        r = self._linear(params, X) - y
        return np.mean(r * r, axis=-1) + self._penalty(params["w"], axis=-1)

    def loss_and_grad(self, params, X, y):
        r"""The loss and :math:`\nabla_w = \frac2n X^\top r + \lambda w`, :math:`\partial_b = \frac2n\sum_i r_i`."""
        X, y = self._check_Xy(X, y)
        r = self._linear(params, X) - y
        loss = _mean(r * r) + self._penalty(params["w"], axis=-1)
        grads = {"w": self._decayed((2.0 / len(y)) * (r @ X), params["w"]), "b": 2.0 * _mean(r)}
        return loss, grads


@dataclass
class LogisticRegression(_LinearModel):
    r"""Binary logistic regression :math:`p = \sigma(x^\top w + b)` with the cross-entropy loss.

    With logits :math:`z = Xw + b` and labels :math:`y_i \in \{0, 1\}`:

    .. math::

        L = \frac1n \sum_i \big[\log(1 + e^{z_i}) - y_i z_i\big] + \frac\lambda2 \lVert w\rVert^2, \qquad
        \nabla_w L = \frac1n X^\top (p - y) + \lambda w, \quad \frac{\partial L}{\partial b} = \frac1n\sum_i (p_i - y_i)

    which equals :math:`-\frac1n\sum_i [y_i\log p_i + (1-y_i)\log(1-p_i)]` but is
    computed with ``logaddexp`` so that large logits cannot overflow.
    Parameters ``{"w": (n_features,), "b": ()}``, initialised at zero.
    """

    task = "classification"
    _n_labels = 2

    def logits(self, params, X):
        r""":math:`z = Xw + b`, shape ``(*sweep, n)``."""
        return self._linear(params, self._check_X(X))

    def predict_proba(self, params, X):
        r""":math:`p = \sigma(z)`, the probability of class 1."""
        return sigmoid(self.logits(params, X))

    def predict(self, params, X):
        """Class labels: 1 where :math:`z > 0` (:math:`p > 1/2`), else 0."""
        return (self.logits(params, X) > 0).astype(np.int64)

    def loss(self, params, X, y):
        r""":math:`\frac1n\sum_i [\log(1+e^{z_i}) - y_i z_i] + \frac\lambda2\lVert w\rVert^2`."""
        X, y = self._check_Xy(X, y)
        z = self._linear(params, X)
        return np.mean(np.logaddexp(0.0, z) - y * z, axis=-1) + self._penalty(params["w"], axis=-1)

    def evaluate(self, params, X, y):
        """``(loss, accuracy)`` from one computation of the logits (the numbers of ``loss`` and ``accuracy``)."""
        X, y = self._check_Xy(X, y)
        z = self._linear(params, X)
        loss = np.mean(np.logaddexp(0.0, z) - y * z, axis=-1) + self._penalty(params["w"], axis=-1)
        return loss, np.mean((z > 0).astype(np.int64) == y, axis=-1)

    def loss_and_grad(self, params, X, y):
        r"""The loss and :math:`\nabla_w = \frac1n X^\top(p - y) + \lambda w`, :math:`\partial_b = \frac1n\sum_i(p_i - y_i)`."""
        X, y = self._check_Xy(X, y)
        z = self._linear(params, X)
        loss = _mean(np.logaddexp(0.0, z) - y * z) + self._penalty(params["w"], axis=-1)
        error = sigmoid(z) - y
        grads = {"w": self._decayed((error @ X) / len(y), params["w"]), "b": _mean(error)}
        return loss, grads


@dataclass
class SoftmaxRegression(_Model):
    r"""Multinomial logistic regression :math:`p = \operatorname{softmax}(x^\top W + b)`, cross-entropy loss.

    With logits :math:`Z = XW + b` (shape ``(n, k)``) and one-hot labels :math:`Y`:

    .. math::

        L = -\frac1n \sum_i \log p_{i, y_i} + \frac\lambda2 \lVert W\rVert^2
          = \frac1n \sum_i \Big[\log\sum_j e^{Z_{ij}} - Z_{i, y_i}\Big] + \frac\lambda2 \lVert W\rVert^2, \qquad
        \nabla_W L = \frac1n X^\top (P - Y) + \lambda W, \quad \nabla_b L = \frac1n \sum_i (P - Y)_i

    Parameters ``{"W": (n_features, n_classes), "b": (n_classes,)}``, initialised at zero.
    """

    n_features: int
    n_classes: int
    l2: float = 0.0
    task = "classification"

    def __post_init__(self):
        self.n_features = check.check_int("n_features", self.n_features, 1)
        self.n_classes = check.check_int("n_classes", self.n_classes, 2)
        self.l2 = _check_l2(self.l2)

    @property
    def _n_labels(self):
        return self.n_classes

    def init(self, seed=0, sweep=()):
        """Zero weights and biases (``seed`` is accepted for a uniform interface; the loss is convex)."""
        arrays = {"W": np.zeros((self.n_features, self.n_classes)), "b": np.zeros(self.n_classes)}
        return _repeat(arrays, _sweep_shape(sweep))

    def logits(self, params, X):
        """:math:`Z = XW + b`, shape ``(*sweep, n, n_classes)``."""
        X = self._check_X(X)
        return X @ params["W"] + params["b"][..., None, :]

    def predict_proba(self, params, X):
        r""":math:`P = \operatorname{softmax}(Z)` row by row."""
        return softmax(self.logits(params, X))

    def predict(self, params, X):
        r"""Class labels :math:`\arg\max_j Z_{ij}`."""
        return np.argmax(self.logits(params, X), axis=-1)

    def loss(self, params, X, y):
        r""":math:`-\frac1n\sum_i \log p_{i,y_i} + \frac\lambda2\lVert W\rVert^2`."""
        X, y = self._check_Xy(X, y)
        log_p = log_softmax(self.logits(params, X))
        return _cross_entropy(log_p, _one_hot(y, self.n_classes)) + self._penalty(params["W"], axis=(-2, -1))

    def evaluate(self, params, X, y):
        """``(loss, accuracy)`` from one computation of the logits (the numbers of ``loss`` and ``accuracy``)."""
        X, y = self._check_Xy(X, y)
        Z = self.logits(params, X)
        loss = _cross_entropy(log_softmax(Z), _one_hot(y, self.n_classes)) + self._penalty(
            params["W"], axis=(-2, -1)
        )
        return loss, np.mean(np.argmax(Z, axis=-1) == y, axis=-1)

    def loss_and_grad(self, params, X, y):
        r"""The loss and :math:`\nabla_W = \frac1n X^\top(P - Y) + \lambda W`, :math:`\nabla_b = \frac1n\sum_i (P-Y)_i`."""
        X, y = self._check_Xy(X, y)
        log_p = log_softmax(self.logits(params, X))
        Y = _one_hot(y, self.n_classes)
        loss = _cross_entropy(log_p, Y) + self._penalty(params["W"], axis=(-2, -1))
        delta = (np.exp(log_p) - Y) / len(y)
        grads = {"W": self._decayed(X.T @ delta, params["W"]), "b": delta.sum(axis=-2)}
        return loss, grads


def _one_hot(y, k):
    """Labels ``(n,)`` as one-hot rows ``(n, k)``: row ``i`` is 1 in column ``y[i]``, 0 elsewhere."""
    return np.eye(k)[y]


def _cross_entropy(log_p, Y):
    r""":math:`-\frac1n\sum_i \log p_{i, y_i} = -\frac1n\sum_{i,j} Y_{ij}\log p_{ij}` (log-probabilities ``(..., n, k)``)."""
    return -np.mean(np.sum(Y * log_p, axis=-1), axis=-1)


# ----------------------------------------------------------------- multilayer perceptron


@dataclass
class MLP(_Model):
    r"""A multilayer perceptron: hidden layers with ReLU or tanh, then a linear output layer.

    Forward pass, with :math:`A_0 = X` and :math:`\phi` the activation:

    .. math::

        Z_l = A_{l-1} W_l + b_l, \quad A_l = \phi(Z_l) \quad (l = 1, \dots, L-1), \qquad
        \text{out} = A_{L-1} W_L + b_L

    The loss is the softmax cross-entropy of ``out`` (``n_classes`` given) or the
    mean squared error of ``out[:, 0]`` (``n_classes=None``: regression), plus
    :math:`\frac\lambda2\sum_l \lVert W_l\rVert^2`. With ``criterion="squared_error"`` a
    classifier is trained on the squared distance to its one-hot targets instead,
    :math:`\frac1n\sum_i \lVert \text{out}_i - e_{y_i}\rVert^2` (the regression loss,
    one column per class). Backpropagation runs the chain rule backwards:

    .. math::

        \Delta_L = \frac{\partial L}{\partial\, \text{out}}, \quad
        \nabla_{W_l} = A_{l-1}^\top \Delta_l + \lambda W_l, \quad
        \nabla_{b_l} = \textstyle\sum_i (\Delta_l)_i, \quad
        \Delta_{l-1} = (\Delta_l W_l^\top) \odot \phi'(Z_{l-1})

    with :math:`\Delta_L = (P - Y)/n` for cross-entropy and :math:`\frac2n(\text{out} - Y)`
    for squared error. Weights start normal with standard deviation
    :math:`\sqrt{2/\text{fan-in}}` for ReLU (He) or :math:`\sqrt{1/\text{fan-in}}`
    for tanh (LeCun) and the output layer; biases start at zero.
    ``hidden=(64,)`` gives one hidden layer of 64 units, ``(64, 32)`` two.
    Parameters ``{"W1", "b1", "W2", "b2", ...}``.

    **muP** (Yang et al., 2022). With ``base_width`` (one width, or one per hidden
    layer) the output layer starts :math:`\sqrt{m}` times smaller, :math:`m` the
    width of the last hidden layer divided by its base width: standard deviation
    :math:`\sqrt{1/\text{fan-in}}\cdot\sqrt{\text{base}/\text{fan-in}}`, so its
    variance falls like :math:`1/\text{fan-in}^2`. The other layers keep their
    initialisation, and at the base width nothing changes. This is the initialisation half of
    the maximal-update parametrization; the other half, a rate for each layer, is
    :func:`lrcourse.labs.scaling.mup_multipliers`.
    """

    n_features: int
    hidden: tuple = (32,)
    n_classes: int | None = None
    activation: str = "relu"
    l2: float = 0.0
    criterion: str = "cross_entropy"
    base_width: int | tuple | None = None

    def __post_init__(self):
        self.n_features = check.check_int("n_features", self.n_features, 1)
        hidden = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else tuple(self.hidden)
        if not hidden:
            raise ValueError("hidden must list at least one layer size, e.g. (32,), got ()")
        self.hidden = tuple(check.check_int("hidden", h, 1) for h in hidden)
        if self.n_classes is not None:
            self.n_classes = check.check_int("n_classes", self.n_classes, 2)
        self.activation = check.check_choice("activation", self.activation, tuple(ACTIVATIONS))
        self.l2 = _check_l2(self.l2)
        self.criterion = check.check_choice("criterion", self.criterion, ("cross_entropy", "squared_error"))
        if self.base_width is not None:
            base = self.base_width
            base = (base,) * len(self.hidden) if isinstance(base, (int, np.integer)) else tuple(base)
            if len(base) != len(self.hidden):
                raise ValueError(
                    f"base_width must be one width or one per hidden layer ({len(self.hidden)}), got {base}"
                )
            self.base_width = tuple(check.check_int("base_width", b, 1) for b in base)

    @property
    def width_multipliers(self):
        """``(1, m_1, ..., m_{L-1}, 1)``: each layer width over its base width (inputs and outputs: 1)."""
        base = self.base_width or self.hidden
        return (1.0, *(h / b for h, b in zip(self.hidden, base, strict=True)), 1.0)

    @property
    def task(self):
        return "regression" if self.n_classes is None else "classification"

    @property
    def _n_labels(self):
        return self.n_classes

    @property
    def sizes(self):
        """Layer widths ``(n_features, *hidden, n_outputs)``."""
        return (self.n_features, *self.hidden, self.n_classes or 1)

    @property
    def n_layers(self):
        """The number of weight matrices (hidden layers + 1)."""
        return len(self.sizes) - 1

    def init(self, seed=0, sweep=()):
        """Random weights (He for ReLU, LeCun for tanh and the output), zero biases; same for every sweep member."""
        rng = np.random.default_rng(seed)
        std_for = ACTIVATIONS[self.activation][2]
        arrays = {}
        for l in range(1, self.n_layers + 1):
            fan_in, fan_out = self.sizes[l - 1], self.sizes[l]
            std = std_for(fan_in) if l < self.n_layers else np.sqrt(1.0 / fan_in)
            if l == self.n_layers and self.base_width is not None:
                std /= np.sqrt(self.width_multipliers[l - 1])  # muP: the output layer
            arrays[f"W{l}"] = perturbed(std * rng.standard_normal((fan_in, fan_out)))
            arrays[f"b{l}"] = np.zeros(fan_out)
        return _repeat(arrays, _sweep_shape(sweep))

    def _forward(self, params, X):
        """The output and, for backpropagation, the inputs ``A`` and pre-activations ``Z`` of every layer."""
        phi = ACTIVATIONS[self.activation][0]
        A, inputs, pre = X, [], []
        for l in range(1, self.n_layers + 1):
            inputs.append(A)
            Z = A @ params[f"W{l}"] + params[f"b{l}"][..., None, :]
            if l == self.n_layers:
                return Z, inputs, pre
            pre.append(Z)
            A = phi(Z)

    def output(self, params, X):
        """The raw network output (logits, or the regression value in column 0), shape ``(*sweep, n, n_out)``."""
        return self._forward(params, self._check_X(X))[0]

    def predict(self, params, X):
        r"""Class labels :math:`\arg\max_j \text{out}_{ij}`, or the regression values ``out[:, 0]``."""
        out = self.output(params, X)
        return out[..., 0] if self.n_classes is None else np.argmax(out, axis=-1)

    def predict_proba(self, params, X):
        r"""Class probabilities :math:`\operatorname{softmax}(\text{out})` (classification only)."""
        if self.n_classes is None:
            raise ValueError("predict_proba needs a classifier; this MLP has n_classes=None (regression)")
        return softmax(self.output(params, X))

    def _data_loss(self, out, y, grad=True):
        """The loss without penalty, and :math:`\\Delta_L = \\partial L / \\partial\\,\\text{out}` (``None``
        without ``grad``)."""
        if self.n_classes is None:
            r = out[..., 0] - y
            return np.mean(r * r, axis=-1), ((2.0 / len(y)) * r[..., None] if grad else None)
        if self.criterion == "squared_error":
            r = out - _one_hot(y, self.n_classes)
            return np.sum(r * r, axis=(-2, -1)) / len(y), ((2.0 / len(y)) * r if grad else None)
        log_p = log_softmax(out)
        Y = _one_hot(y, self.n_classes)
        return _cross_entropy(log_p, Y), ((np.exp(log_p) - Y) / len(y) if grad else None)

    def _total_penalty(self, params):
        return sum(self._penalty(params[f"W{l}"], axis=(-2, -1)) for l in range(1, self.n_layers + 1))

    def loss(self, params, X, y):
        """Cross-entropy or mean squared error, plus the L2 penalty on every weight matrix."""
        X, y = self._check_Xy(X, y)
        out = self._forward(params, X)[0]
        return self._data_loss(out, y, grad=False)[0] + self._total_penalty(params)

    def evaluate(self, params, X, y):
        """``(loss, accuracy)`` from a single forward pass (accuracy ``None`` for regression)."""
        X, y = self._check_Xy(X, y)
        out = self._forward(params, X)[0]
        loss = self._data_loss(out, y, grad=False)[0] + self._total_penalty(params)
        if self.n_classes is None:
            return loss, None
        return loss, np.mean(np.argmax(out, axis=-1) == y, axis=-1)

    def loss_and_grad(self, params, X, y):
        """The loss and its gradient by backpropagation (formulas in the class docstring)."""
        X, y = self._check_Xy(X, y)
        out, inputs, pre = self._forward(params, X)
        loss, delta = self._data_loss(out, y)
        loss = loss + self._total_penalty(params)
        phi_grad = ACTIVATIONS[self.activation][1]
        grads = {}
        for l in range(self.n_layers, 0, -1):
            W = params[f"W{l}"]
            grads[f"W{l}"] = self._decayed(_T(inputs[l - 1]) @ delta, W)
            grads[f"b{l}"] = delta.sum(axis=-2)
            if l > 1:
                delta = (delta @ _T(W)) * phi_grad(pre[l - 2], inputs[l - 1])
        return loss, {k: grads[k] for k in params}

    def hvp(self, params, vector, X, y):
        r"""The Hessian of :meth:`loss` at ``params`` times ``vector`` (a dict like ``params``), exactly.

        Forward-over-reverse differentiation (Pearlmutter's :math:`\mathcal R`-operator):
        every quantity :math:`q` of the forward and backward passes gets its directional
        derivative :math:`\dot q = \frac{d}{d\epsilon} q(\theta + \epsilon v)|_{\epsilon=0}`,

        .. math::

            \dot Z_l = \dot A_{l-1} W_l + A_{l-1} V_l + \dot b_l, \quad \dot A_l = \phi'(Z_l)\,\dot Z_l,
            \qquad
            \dot\nabla_{W_l} = \dot A_{l-1}^\top \Delta_l + A_{l-1}^\top \dot\Delta_l + \lambda V_l,

        .. math::

            \dot\Delta_{l-1} = (\dot\Delta_l W_l^\top + \Delta_l V_l^\top) \odot \phi'(Z_{l-1})
            + (\Delta_l W_l^\top) \odot \phi''(Z_{l-1}) \odot \dot Z_{l-1},

        starting from :math:`\dot\Delta_L = \frac1n \big(P \odot \dot{\text{out}} - P\,
        (P \odot \dot{\text{out}})\mathbf 1\big)` for cross-entropy and
        :math:`\frac2n\,\dot{\text{out}}` for the squared error. The result,
        :math:`\dot\nabla = H v`, costs about two gradients. For ReLU,
        :math:`\phi'' = 0` (the Hessian wherever it exists). Sweep axes work as in :meth:`loss`.
        """
        X, y = self._check_Xy(X, y)
        out, inputs, pre = self._forward(params, X)
        # phi'(Z_l) and phi''(Z_l), once per hidden layer (inputs[l] holds phi(Z_l))
        first, second = ACTIVATIONS[self.activation][1], SECOND_DERIVATIVES[self.activation]
        slope = [first(Z, A) for Z, A in zip(pre, inputs[1:], strict=True)]
        bend = [second(Z, A, d) for Z, A, d in zip(pre, inputs[1:], slope, strict=True)]
        dot_inputs, dot_pre = [np.zeros_like(X)], []
        for l in range(1, self.n_layers + 1):
            dot_Z = dot_inputs[-1] @ params[f"W{l}"] + inputs[l - 1] @ vector[f"W{l}"]
            dot_Z = dot_Z + vector[f"b{l}"][..., None, :]
            if l < self.n_layers:
                dot_pre.append(dot_Z)
                dot_inputs.append(slope[l - 1] * dot_Z)
        _, delta = self._data_loss(out, y)
        if self.n_classes is not None and self.criterion == "cross_entropy":
            P = softmax(out)
            Pdot = P * dot_Z
            dot_delta = (Pdot - P * Pdot.sum(axis=-1, keepdims=True)) / len(y)
        else:
            dot_delta = (2.0 / len(y)) * dot_Z  # the output's own derivative
        product = {}
        for l in range(self.n_layers, 0, -1):
            W, V = params[f"W{l}"], vector[f"W{l}"]
            product[f"W{l}"] = _T(dot_inputs[l - 1]) @ delta + _T(inputs[l - 1]) @ dot_delta + self.l2 * V
            product[f"b{l}"] = dot_delta.sum(axis=-2)
            if l > 1:
                back = delta @ _T(W)  # Delta_l W_l^T
                dot_back = dot_delta @ _T(W) + delta @ _T(V)  # its derivative
                curvature = back * bend[l - 2] * dot_pre[l - 2]  # the phi'' term
                dot_delta = dot_back * slope[l - 2] + curvature
                delta = back * slope[l - 2]
        return {k: product[k] for k in params}
