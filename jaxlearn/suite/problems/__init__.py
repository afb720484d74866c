"""The built-in problems of the optimizer benchmark suite, by name (:data:`PROBLEMS`).

Each is a :class:`~jaxlearn.suite.problem.Problem` sized so that one trial at its full budget
takes seconds on a 2-core CPU (the measured times are in ``docs/suite.md``):

=====================  ============================================================
``quadratic``          noisy ill-conditioned 100-D quadratic (DeepOBS quadratic_deep)
``rosenbrock``         noisy 2-D Rosenbrock from (−0.5, 1.5)
``beale``              noisy 2-D Beale from (−4.5, 4.5)
``book_function``      noisy f(x, y) = x²/20 + y² from (−7, 2), the book's figure 6-8
``mnist_logreg``       logistic regression on the mnist-5k digits
``mnist_mlp``          the book's [100]×4 ReLU network on mnist-5k (the chapter's problem)
``fashion_mlp_bn_wd``  the book's network with Batch Norm and weight decay, Fashion-MNIST
``fashion_cnn``        a two-convolution CNN on Fashion-MNIST
``mnist_autoencoder``  a dense autoencoder on mnist-5k
=====================  ============================================================
"""

from __future__ import annotations

from jaxlearn.nn import mlp
from jaxlearn.suite.problem import Problem, Target
from jaxlearn.suite.problems.functions import NoisyFunction2D, NoisyQuadratic
from jaxlearn.suite.problems.images import (
    Autoencoder,
    BookNetwork,
    LogisticRegression,
    SmallCNN,
)

__all__ = ["PROBLEMS", "get"]

#: Every built-in problem, by name, in the order of tables and figures.
PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in (
        NoisyQuadratic(),
        NoisyFunction2D(
            name="rosenbrock", function="rosenbrock", target=Target("f", "min", 0.05),
            quick_target=Target("f", "min", 4.0),
            description="noisy 2-D Rosenbrock from (-0.5, 1.5) (DeepOBS two_d_rosenbrock)",
        ),
        NoisyFunction2D(
            name="beale", function="beale", target=Target("f", "min", 2.0),
            quick_target=Target("f", "min", 2e4),
            description="noisy 2-D Beale from (-4.5, 4.5) (DeepOBS two_d_beale)",
        ),
        NoisyFunction2D(
            name="book_function", function="book_function", target=Target("f", "min", 0.01),
            quick_target=Target("f", "min", 0.5),
            description="noisy f(x, y) = x^2/20 + y^2 from (-7, 2), the book's figure 6-8",
        ),
        LogisticRegression(),
        # its tuning trials four at a time: faster than one vmap (benchmarks/README.md, suite)
        BookNetwork(trials_at_once=4),
        BookNetwork(
            name="fashion_mlp_bn_wd",
            description="the book's [100]x4 network with Batch Norm and weight decay 1e-4, "
            "Fashion-MNIST",
            net=mlp.make(784, [100] * 4, 10, use_batchnorm=True, weight_decay_lambda=1e-4),
            dataset="fashion-mnist", valid_size=2000, train_size=10_000,
            target=Target("accuracy", "max", 0.85), quick_target=Target("accuracy", "max", 0.75),
        ),
        SmallCNN(),
        Autoencoder(),
    )
}  # fmt: skip


def get(name: str) -> Problem:
    """The built-in problem ``name``; ValueError listing the names for an unknown one.

    >>> get("mnist_mlp").steps
    2000
    >>> get("mnist")
    Traceback (most recent call last):
    ValueError: unknown problem 'mnist'; the problems are quadratic, rosenbrock, ...
    """
    try:
        return PROBLEMS[name]
    except KeyError:
        raise ValueError(
            f"unknown problem {name!r}; the problems are {', '.join(PROBLEMS)}"
        ) from None
