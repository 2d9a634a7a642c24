"""Two players, two rates: gradient descent-ascent on a game of two numbers."""

from __future__ import annotations

import numpy as np
import pytest

from lrcourse.labs import games


def test_play_follows_the_update_matrix():
    for alternating in (False, True):
        for gamma in (0.0, 0.7):
            path = games.play(0.3, 0.8, 12, start=(1.0, -0.5), gamma=gamma, alternating=alternating)
            M = games.update_matrix(0.3, 0.8, gamma, alternating)
            z = np.array([1.0, -0.5])
            for t in range(1, 13):
                z = M @ z
                np.testing.assert_allclose(path[t], z, rtol=1e-12, atol=1e-14)


def test_play_by_hand():
    path = games.play(0.1, 0.2, 1, start=(1.0, 2.0), gamma=0.5)
    # x - a y = 1 - 0.1 * 2; y + b (x - gamma y) = 2 + 0.2 * (1 - 1)
    np.testing.assert_allclose(path[1], [0.8, 2.0])
    path = games.play(0.1, 0.2, 1, start=(1.0, 2.0), gamma=0.5, alternating=True)
    np.testing.assert_allclose(path[1], [1.0 - 0.1 * 2.0, 2.0])


def test_sweeps_match_single_games():
    a = np.array([0.1, 0.5, 2.0])
    b = np.array([[0.2], [1.0]])
    path = games.play(a, b, 20, gamma=1.0)
    assert path.shape == (21, 2, 3, 2)
    np.testing.assert_allclose(path[:, 1, 2], games.play(2.0, 1.0, 20, gamma=1.0), rtol=1e-13)
    assert games.spectral_radius(a, b, 1.0).shape == (2, 3)


def test_the_known_regimes():
    r = np.array([0.25, 1.0, 2.0, 16.0])
    a, b = 1 / np.sqrt(r), np.sqrt(r)
    radius = games.spectral_radius(a, b, gamma=1.0)
    assert list(games.regime(radius)) == ["diverges", "cycles", "converges", "diverges"]
    # the bilinear game: simultaneous steps spiral out, sqrt(1 + ab), at every ratio
    np.testing.assert_allclose(games.spectral_radius(a, b), np.sqrt(1 + a * b))
    # alternating steps keep |lambda| = 1 while ab < 4, and diverge above
    np.testing.assert_allclose(games.spectral_radius(a, b, alternating=True), 1.0)
    assert games.regime(games.spectral_radius(3.0, 2.0, alternating=True)) == "diverges"
    # a = b = 1, gamma = 1: a rotation by 60 degrees, back at the start after 6 steps
    path = games.play(1.0, 1.0, 6, gamma=1.0)
    np.testing.assert_allclose(path[6], path[0], atol=1e-12)


def test_stability_conditions_of_the_regularised_game():
    """Simultaneous steps converge iff a < gamma and b (2 gamma - a) < 4 (from trace and determinant)."""
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.01, 3, 2000), rng.uniform(0.01, 5, 2000)
    inside = (a < 1.0) & (b * (2 - a) < 4)
    radius = games.spectral_radius(a, b, gamma=1.0)
    far = np.abs(radius - 1) > 1e-6
    assert np.array_equal((radius < 1)[far], inside[far])


def test_value_and_gradients():
    assert games.value(2.0, 3.0, 0.5) == pytest.approx(6 - 0.25 * 9)
    assert games.gradients(2.0, 3.0, 0.5) == (3.0, 2.0 - 1.5)


@pytest.mark.parametrize(
    ("call", "phrase"),
    [
        (lambda: games.play(-0.1, 0.1, 5), "lr_g"),
        (lambda: games.play([0.1, 0.2], [0.1, 0.2, 0.3], 5), "broadcast"),
        (lambda: games.play(0.1, 0.1, -1), "steps"),
        (lambda: games.regime(-1.0), "radius"),
    ],
)
def test_mistakes_are_explained(call, phrase):
    with pytest.raises(ValueError, match=phrase):
        call()
