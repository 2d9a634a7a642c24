"""Self-checking code exercises.

A checker runs the learner's function against a reference on fixed inputs and on
seeded random inputs, prints one specific message (what is wrong, on which
input, and a hint) and returns a :class:`CheckResult`, true when the exercise is
solved (it shows no ``Out[n]`` line in a notebook). It never raises: a stub
that still raises ``NotImplementedError`` or returns ``None``/``...`` gets a
"not yet solved" message, a crash gets the exception's type and message.

Generic::

    check_function(my_fn, reference_fn, cases=[(x, y), ...], name="my_fn",
                   random_case=lambda rng: (rng.normal(size=3),), mistakes=[(wrong_fn, "hint")])

Named checkers for the chapters (each wraps :func:`check_function`):

- chapter 1: :func:`check_gradient_step`, :func:`check_numerical_gradient`,
  :func:`check_gradient_descent`.
- chapter 2: :func:`check_stability_limit`.
- chapter 3: :func:`check_updates_per_epoch`, :func:`check_minibatch_error`.
- chapter 4: :func:`check_is_overfitting`, :func:`check_curve_labels`.
- chapter 5: :func:`check_cosine_annealing`, :func:`check_warmup_cosine`,
  :func:`check_plateau_drops` (a prediction, not a function).
- chapter 6: :func:`check_momentum_step`, :func:`check_adam_step`.
- chapter 7: :func:`check_stopping_epoch`.
- chapter 8: :func:`check_layer_rates`.
- chapter 9: :func:`check_radam_rectification`, :func:`check_wsd_rate`.
- chapter 10: :func:`check_largest_eigenvalue`, :func:`check_mup_rates`,
  :func:`check_batch_rate`.
- chapter 11: :func:`check_clip_by_global_norm`, :func:`check_lion_step`, :func:`check_tuned_rate`.

A checker keeps nothing: its return value is the result. To keep a tally, pass
every checker the same list as ``record``; each appends a :class:`CheckResult`
(``name``, ``passed``, ``message``) to it::

    results = []
    check_gradient_step(gradient_step, record=results)
    summary(results)                         # one line per exercise, the number solved
    save_results(results, "results.json")

To grade a class, :mod:`lrcourse.assign` runs each submission and calls the
checkers itself.

A checker module builds on the tools of :mod:`lrcourse.checks.core`:
:func:`~lrcourse.checks.core.check_function`, and for a checker written by hand
:func:`~lrcourse.checks.core.report` (run, print, record),
:func:`~lrcourse.checks.core.format_message` and :func:`~lrcourse.checks.core.wrap`
(the text), :func:`~lrcourse.checks.core.is_stub` (an unsolved exercise) and
:func:`~lrcourse.checks.core.compare_values` (numbers against the reference).
The objects a check hands to the learner's function (test functions, curves,
data) live in :mod:`lrcourse.checks.inputs`, apart from the references: the
autograder's sandbox sees that module and no other checker module.
"""

# The machinery, then one module of checkers per topic.
from lrcourse.checks.batch_size import check_minibatch_error, check_updates_per_epoch
from lrcourse.checks.clipping import check_clip_by_global_norm, check_lion_step
from lrcourse.checks.core import (
    WIDTH,
    Case,
    CheckResult,
    check_function,
    save_results,
    summary,
)
from lrcourse.checks.early_stopping import check_stopping_epoch
from lrcourse.checks.epochs import check_curve_labels, check_is_overfitting
from lrcourse.checks.gradient_descent import (
    check_gradient_descent,
    check_gradient_step,
    check_numerical_gradient,
)
from lrcourse.checks.learning_rate import check_stability_limit
from lrcourse.checks.optimizers import check_adam_step, check_momentum_step
from lrcourse.checks.recipe import check_tuned_rate
from lrcourse.checks.scaling import check_batch_rate, check_mup_rates
from lrcourse.checks.schedules import (
    PLATEAU_METRICS,
    check_cosine_annealing,
    check_plateau_drops,
    check_warmup_cosine,
)
from lrcourse.checks.stability import check_largest_eigenvalue
from lrcourse.checks.tuning import check_layer_rates
from lrcourse.checks.warmup_wsd import check_radam_rectification, check_wsd_rate
