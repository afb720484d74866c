"""Problems on MNIST-like images: logistic regression, the book's network (plain, and with Batch
Norm and weight decay), a small CNN, an autoencoder.

Every one reads its data through :func:`~jaxlearn.suite.problems.data.image_splits`: the
embedded ``mnist-5k`` digits (offline, always there) or Fashion-MNIST's IDX files (found where
:func:`jaxlearn.data.load` looks — Debian's ``dataset-fashion-mnist`` package puts them in
``/usr/share/datasets`` — or fetched with ``download=True``). Images are flattened float32 in
[0, 1]; labels are int class indices.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn.nn import mlp
from jaxlearn.suite.problem import Problem, Target
from jaxlearn.suite.problems.data import image_splits

Array = jax.Array

__all__ = ["Autoencoder", "BookNetwork", "ImageProblem", "LogisticRegression", "SmallCNN"]


@dataclasses.dataclass(frozen=True)
class ImageProblem(Problem):
    """A problem on one image data set: ``dataset`` with ``valid_size`` training images held
    out and ``train_size`` of the rest kept; the quick variant keeps ``quick_train_size``
    training images and the first ``quick_eval_size`` of the validation and test splits.
    ``data_dir`` and ``download`` say where the files are; they do not change the problem."""

    dataset: str = "mnist-5k"
    valid_size: int = 500
    train_size: int | None = None
    quick_train_size: int | None = 1000
    quick_eval_size: int = 1000
    data_dir: str | None = dataclasses.field(default=None, compare=False)
    download: bool = dataclasses.field(default=False, compare=False)

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        size = self.quick_train_size if self.is_quick else self.train_size
        out = image_splits(self.dataset, self.valid_size, size, self.data_dir, self.download)
        if self.is_quick:
            n = self.quick_eval_size
            out = {**out, "valid": tuple(a[:n] for a in out["valid"]),
                   "test": tuple(a[:n] for a in out["test"])}  # fmt: skip
        return out

    def check_data(self, x: Any, t: Any, split: str) -> tuple[Array, Array]:
        x, t = jnp.asarray(x, jnp.float32), jnp.asarray(t, jnp.int32)
        if x.ndim != 2 or x.shape[1] != 784 or t.shape != (x.shape[0],):
            raise ValueError(
                f"{self.name}: x_{split} must be (N, 784) flattened images and t_{split} (N,) "
                f"labels, got {x.shape} and {t.shape}"
            )
        return x, t


def _classification(logits: Array, t: Array) -> dict[str, Array]:
    log_p = jax.nn.log_softmax(logits)
    return {
        "accuracy": jnp.argmax(logits, axis=-1) == t,
        "cross_entropy": -jnp.take_along_axis(log_p, t[:, None], axis=-1)[:, 0],
    }


@dataclasses.dataclass(frozen=True)
class LogisticRegression(ImageProblem):
    r"""Multinomial logistic regression, ``softmax(x W + b)``, W and b starting at zero; loss
    the mean cross-entropy (convex: the landscape every optimizer should handle)."""

    name: str = "mnist_logreg"
    description: str = "logistic regression on mnist-5k (784 -> 10, convex)"
    steps: int = 1000
    eval_every: int = 50
    target: Target = Target("accuracy", "max", 0.92)
    quick_target: Target = Target("accuracy", "max", 0.85)

    def init(self, key: Array) -> tuple[dict, dict]:
        return {"W": jnp.zeros((784, 10), jnp.float32), "b": jnp.zeros(10, jnp.float32)}, {}

    def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
        return jnp.mean(_classification(x @ params["W"] + params["b"], t)["cross_entropy"]), state

    def metrics(self, params, state, x, t):
        return _classification(x @ params["W"] + params["b"], t)


@dataclasses.dataclass(frozen=True)
class BookNetwork(ImageProblem):
    """The book's ``MultiLayerNetExtend`` (:mod:`jaxlearn.nn.mlp`): ``net`` fixes its layers,
    activation, initialisation, Batch Norm and weight decay; the loss is the book's (weight
    decay included), the metrics the network's own (accuracy, cross-entropy)."""

    name: str = "mnist_mlp"
    description: str = "the book's [100]x4 ReLU network, He init, on mnist-5k (chapter 6)"
    net: mlp.MLPConfig = mlp.make(784, [100] * 4, 10)
    steps: int = 2000
    eval_every: int = 100
    target: Target = Target("accuracy", "max", 0.95)
    quick_target: Target = Target("accuracy", "max", 0.85)

    def init(self, key: Array) -> tuple[dict, dict]:
        return mlp.init_params(self.net, key)

    def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
        return self.net.loss(params, state, x, t, train=train, key=key, axis_name=axis_name)

    def metrics(self, params, state, x, t):
        return self.net.metrics(params, state, x, t)


def _conv(x: Array, w: Array) -> Array:
    """A 3×3 'SAME' convolution (NHWC, HWIO) as patches times a matrix, the patches built
    from the kh·kw shifted windows of the zero-padded input. On XLA:CPU this is faster than
    ``lax.conv_general_dilated`` for these small channel counts, and K vmapped copies stay one
    batched matrix product (a vmapped convolution becomes a grouped one). The patches equal
    ``lax.conv_general_dilated_patches``'s (channel-major), but their gradient is a sum of
    shifted windows rather than a grouped transposed convolution: measured on this problem's
    second layer, 1.1 ms against 89 ms."""
    kh, kw, c_in, c_out = w.shape
    n, h, wd, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    windows = [padded[:, i : i + h, j : j + wd, :] for i in range(kh) for j in range(kw)]
    patches = jnp.stack(windows, axis=-1).reshape(n, h, wd, c_in * kh * kw)
    return patches @ jnp.transpose(w, (2, 0, 1, 3)).reshape(c_in * kh * kw, c_out)


def _pool(x: Array) -> Array:
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")


@dataclasses.dataclass(frozen=True)
class SmallCNN(ImageProblem):
    """Two 3×3 convolutions (``channels``) with ReLU and 2×2 max-pooling, then a dense layer
    to the 10 classes; He-normal weights, zero biases; cross-entropy loss."""

    name: str = "fashion_cnn"
    version: int = 2  # 2: the patches' gradient as shifted windows (equal to float rounding)
    description: str = "2-conv CNN (3x3x8, 3x3x16, max-pool) on Fashion-MNIST"
    dataset: str = "fashion-mnist"
    valid_size: int = 2000
    train_size: int | None = 10_000
    channels: tuple[int, int] = (8, 16)
    steps: int = 500
    eval_every: int = 50
    quick_steps: int = 40
    quick_batch_size: int = 64
    eval_batch_size: int | None = 1000
    target: Target = Target("accuracy", "max", 0.87)
    quick_target: Target = Target("accuracy", "max", 0.6)
    # 16 copies of the activations (3 MB each at batch 128) leave the cache: 4 at a time ran
    # 16 trials at 15.8 ms per trial-step against 19.2 ms in one vmap (one trial: 15.2 ms).
    trials_at_once: int | None = dataclasses.field(default=4, compare=False)

    def init(self, key: Array) -> tuple[dict, dict]:
        c1, c2 = self.channels
        k1, k2, k3 = jax.random.split(key, 3)

        def he(k, shape, fan_in):
            return jax.random.normal(k, shape, jnp.float32) * np.sqrt(2.0 / fan_in)

        params = {
            "conv1": he(k1, (3, 3, 1, c1), 9), "b1": jnp.zeros(c1, jnp.float32),
            "conv2": he(k2, (3, 3, c1, c2), 9 * c1), "b2": jnp.zeros(c2, jnp.float32),
            "W": he(k3, (7 * 7 * c2, 10), 7 * 7 * c2), "b": jnp.zeros(10, jnp.float32),
        }  # fmt: skip
        return params, {}

    def _logits(self, p: dict, x: Array) -> Array:
        h = x.reshape(-1, 28, 28, 1)
        h = _pool(jax.nn.relu(_conv(h, p["conv1"]) + p["b1"]))
        h = _pool(jax.nn.relu(_conv(h, p["conv2"]) + p["b2"]))
        return h.reshape(h.shape[0], -1) @ p["W"] + p["b"]

    def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
        return jnp.mean(_classification(self._logits(params, x), t)["cross_entropy"]), state

    def metrics(self, params, state, x, t):
        return _classification(self._logits(params, x), t)


@dataclasses.dataclass(frozen=True)
class Autoencoder(ImageProblem):
    """A dense autoencoder ``784 → hidden → code → hidden → 784`` (ReLU, sigmoid output), He
    initialisation; loss and metric the per-image mean squared reconstruction error."""

    name: str = "mnist_autoencoder"
    description: str = "dense autoencoder 784-128-32-128-784 on mnist-5k"
    sizes: tuple[int, ...] = (784, 128, 32, 128, 784)
    steps: int = 1500
    eval_every: int = 50
    target: Target = Target("mse", "min", 0.02)
    quick_target: Target = Target("mse", "min", 0.06)
    # Its tuning trials four at a time: faster than one vmap (benchmarks/README.md, suite).
    trials_at_once: int | None = dataclasses.field(default=4, compare=False)

    def init(self, key: Array) -> tuple[dict, dict]:
        keys = jax.random.split(key, len(self.sizes) - 1)
        params = {}
        for i, (k, n_in, n_out) in enumerate(zip(keys, self.sizes, self.sizes[1:]), 1):
            params[f"W{i}"] = jax.random.normal(k, (n_in, n_out), jnp.float32) * np.sqrt(2 / n_in)
            params[f"b{i}"] = jnp.zeros(n_out, jnp.float32)
        return params, {}

    def _errors(self, p: dict, x: Array) -> Array:
        h, n = x, len(self.sizes) - 1
        for i in range(1, n + 1):
            h = h @ p[f"W{i}"] + p[f"b{i}"]
            h = jax.nn.sigmoid(h) if i == n else jax.nn.relu(h)
        return jnp.mean((h - x) ** 2, axis=-1)

    def loss(self, params, state, x, t, *, train, key=None, axis_name=None):
        return jnp.mean(self._errors(params, x)), state

    def metrics(self, params, state, x, t):
        return {"mse": self._errors(params, x)}
