"""How a training run goes: one frozen :class:`RunConfig`, checked once, and its :class:`Plan`.

Everything about a run except the network, its parameters, the optimizer and the data lives
here, declared once. :func:`jaxlearn.train.train` and :func:`jaxlearn.train.train_many` take
these fields as keyword arguments (or a whole ``config=``), and every compiled program is built
from the same config, so a new option is one field below (and its docstring line).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, NamedTuple

__all__ = ["Plan", "RunConfig"]

#: Compiled calls per run when evaluation does not fix the blocks: a progress bar moves in ~5%
#: steps. Results do not depend on it (batches are keyed by the iteration number).
_TARGET_CALLS = 20


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The settings of one training run (or of K runs trained together).

    Attributes:
      iterations: number of updates. Exactly one of ``iterations`` and ``epochs``.
      epochs: length in epochs; an epoch is ``max(len(x_train) // batch_size, 1)`` updates, as
        the book's ``iter_per_epoch``.
      batch_size: examples per update (book: 100; 128 for the optimizer comparison).
      replace: draw each batch with replacement, as the book's
        ``np.random.choice(train_size, batch_size)``; ``False`` walks a fresh permutation of
        the training set each epoch.
      eval_every: evaluate train/test accuracy every this many updates, on device (default:
        every epoch with ``epochs=``, never with ``iterations=``; 0 turns evaluation off).
      share_batches: ``train_many`` only: every configuration draws the same mini-batches (and
        Dropout masks) from the one ``key`` (common random numbers; the first layer of all K
        networks is then one matrix product).
      trials_at_once: ``train_many`` only: train this many configurations at a time (a
        ``lax.map`` over groups, each group ``vmap``-ed, all in the one compiled program);
        default: all K in one ``vmap``. The same values; it bounds memory, and on a CPU it keeps
        a convolutional network's activations in cache (the suite's ``fashion_cnn`` sets it).
      eval_on: the names of the data's splits to evaluate (default: every split given; see
        :mod:`jaxlearn.train.splits`), e.g. ``('valid',)``.
      eval_batch_size: evaluate this many examples at a time (memory: one chunk's
        activations); default: a whole split at once.
      mesh: data-parallel training. ``None``: one device; an int N: the first N of
        ``jax.devices()``; a sequence of devices; or a ``jax.sharding.Mesh`` with a ``'data'``
        axis (the batch is split over it) and, for ``train_many``, a ``'trials'`` axis (the
        configurations are split over it). See :mod:`jaxlearn.train.distributed`.
      shard_opt_state: ``train`` with a ``mesh``: split the optimizer state over the
        ``'data'`` axis (ZeRO stage 1), each device keeping and updating 1/N of it
        (:class:`~jaxlearn.train.distributed.ShardedOptimizer`); the same results. The
        returned ``opt_state`` is then the rule's state over flat, padded buffers.
      progress: show a tqdm progress bar; ``None`` (default): only when stderr is a terminal.
        Results are identical either way.
      desc: the progress bar's label.
    """

    iterations: int | None = None
    epochs: int | None = None
    batch_size: int = 100
    replace: bool = True
    eval_every: int | None = None
    eval_on: tuple[str, ...] | None = None
    eval_batch_size: int | None = None
    share_batches: bool = False
    trials_at_once: int | None = None
    mesh: Any = None
    shard_opt_state: bool = False
    progress: bool | None = None
    desc: str | None = None

    def __post_init__(self) -> None:
        _positive_int("batch_size", self.batch_size)
        if (self.iterations is None) == (self.epochs is None):
            raise ValueError("give exactly one of iterations= and epochs=")
        if self.iterations is not None:
            _positive_int("iterations", self.iterations)
        if self.epochs is not None:
            _positive_int("epochs", self.epochs)
        if self.eval_every is not None and (
            not isinstance(self.eval_every, int) or self.eval_every < 0
        ):
            raise ValueError(f"eval_every must be an int >= 0, got {self.eval_every!r}")
        if self.eval_batch_size is not None:
            _positive_int("eval_batch_size", self.eval_batch_size)
        if self.trials_at_once is not None:
            _positive_int("trials_at_once", self.trials_at_once)
        if self.eval_on is not None:
            if isinstance(self.eval_on, str) or not all(isinstance(s, str) for s in self.eval_on):
                raise ValueError(f"eval_on must be a tuple of split names, got {self.eval_on!r}")
            object.__setattr__(self, "eval_on", tuple(self.eval_on))

    @classmethod
    def of(cls, config: RunConfig | None = None, **options: Any) -> RunConfig:
        """``config`` (or the defaults) with ``options`` replaced; unknown names are an error.

        >>> RunConfig.of(iterations=10, batch_size=8).batch_size
        8
        >>> RunConfig.of(iterations=10, batchsize=8)
        Traceback (most recent call last):
        TypeError: unknown training option 'batchsize'; the options are iterations, epochs, ...
        """
        fields = [f.name for f in dataclasses.fields(cls)]
        for name in options:
            if name not in fields:
                raise TypeError(
                    f"unknown training option {name!r}; the options are {', '.join(fields)}"
                )
        if config is None:
            return cls(**options)
        if not isinstance(config, cls):
            raise TypeError(f"config must be a RunConfig, got {type(config).__name__}")
        return dataclasses.replace(config, **options) if options else config

    def show_progress(self) -> bool:
        """Whether to draw a progress bar: ``progress``, or stderr is a terminal when None."""
        if self.progress is None:
            return sys.stderr is not None and sys.stderr.isatty()
        return bool(self.progress)

    def plan(self, n_train: int) -> Plan:
        """The run laid out as compiled calls of blocks of updates, for ``n_train`` examples.

        >>> RunConfig(epochs=3, batch_size=10).plan(100)
        Plan(iterations=30, block_len=10, n_blocks=3, blocks_per_call=1, evaluate=True)
        """
        if not self.replace and self.batch_size > n_train:
            raise ValueError(
                f"batch_size ({self.batch_size}) exceeds the {n_train} training examples: an "
                "epoch without replacement needs batch_size <= len(x_train)"
            )
        per_epoch = max(n_train // self.batch_size, 1)  # the book's iter_per_epoch
        iterations = self.iterations or self.epochs * per_epoch
        eval_every = self.eval_every
        if eval_every is None:
            eval_every = per_epoch if self.epochs is not None else 0
        if eval_every and iterations % eval_every:
            raise ValueError(
                f"eval_every ({eval_every}) must divide iterations ({iterations}); 0 turns "
                "evaluation off"
            )
        if eval_every:
            block_len, n_blocks = eval_every, iterations // eval_every
            want = max(1, n_blocks // _TARGET_CALLS)
            per_call = max(d for d in range(1, want + 1) if n_blocks % d == 0)
        else:  # no evaluation: blocks only set how often the progress bar moves
            calls = max(d for d in range(1, _TARGET_CALLS + 1) if iterations % d == 0)
            block_len, n_blocks, per_call = iterations // calls, calls, 1
        return Plan(iterations, block_len, n_blocks, per_call, bool(eval_every))


class Plan(NamedTuple):
    """A run as ``n_blocks`` blocks of ``block_len`` updates, ``blocks_per_call`` blocks per
    compiled call; accuracy is evaluated after each block when ``evaluate``."""

    iterations: int
    block_len: int
    n_blocks: int
    blocks_per_call: int
    evaluate: bool
