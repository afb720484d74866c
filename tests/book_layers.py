"""An independent NumPy float64 port of the book's layers (``common/layers.py``,
``common/multi_layer_net_extend.py``), used as the reference in jaxlearn's tests.

Written from the book's code, line for line, with two testing hooks: ``Dropout.forward`` takes
the uniform draw ``u`` instead of calling ``np.random.rand``, and ``BatchNormalization`` accepts
initial running statistics (the book starts them at zeros).
"""

from __future__ import annotations

import numpy as np

BOOK_EPS = 10e-7  # the book's spelling of 1e-6


class BatchNormalization:
    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None  # 4-D for conv, 2-D for affine
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.xc = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim != 2:
            N = x.shape[0]
            x = x.reshape(N, -1)
        out = self.__forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def __forward(self, x, train_flg):
        if self.running_mean is None:
            N, D = x.shape
            self.running_mean = np.zeros(D)
            self.running_var = np.zeros(D)
        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc**2, axis=0)
            std = np.sqrt(var + BOOK_EPS)
            xn = xc / std
            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / (np.sqrt(self.running_var + BOOK_EPS))
        return self.gamma * xn + self.beta

    def backward(self, dout):
        if dout.ndim != 2:
            N = dout.shape[0]
            dout = dout.reshape(N, -1)
        dx = self.__backward(dout)
        return dx.reshape(*self.input_shape)

    def __backward(self, dout):
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size
        self.dgamma = dgamma
        self.dbeta = dbeta
        return dx


class Dropout:
    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True, u=None):
        if train_flg:
            u = np.random.default_rng().random(x.shape) if u is None else u
            self.mask = u > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


def relu(x):
    return np.maximum(0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(x):
    x = x - np.max(x, axis=-1, keepdims=True)  # overflow guard
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot -> label index
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


class MultiLayerNetExtend:
    """The book's network on given weights: predict / loss / accuracy.

    ``params`` uses the book's names ('W1', 'b1', 'gamma1', 'beta1', ...); ``dropout_u`` maps a
    hidden layer index to its uniform draw so that a dropout forward is reproducible.
    """

    def __init__(
        self,
        params,
        hidden_size_list,
        activation="relu",
        use_batchnorm=False,
        use_dropout=False,
        dropout_ration=0.5,
        weight_decay_lambda=0,
        running=None,
    ):
        self.params = {k: np.asarray(v, np.float64) for k, v in params.items()}
        self.hidden_layer_num = len(hidden_size_list)
        self.activation = {"relu": relu, "sigmoid": sigmoid, "tanh": np.tanh}[activation]
        self.use_batchnorm = use_batchnorm
        self.use_dropout = use_dropout
        self.weight_decay_lambda = weight_decay_lambda
        self.bn = {}
        self.dropout = {}
        for idx in range(1, self.hidden_layer_num + 1):
            if use_batchnorm:
                mean, var = running[idx] if running else (None, None)
                self.bn[idx] = BatchNormalization(
                    self.params[f"gamma{idx}"], self.params[f"beta{idx}"], 0.9, mean, var
                )
            if use_dropout:
                self.dropout[idx] = Dropout(dropout_ration)

    def predict(self, x, train_flg=False, dropout_u=None):
        for idx in range(1, self.hidden_layer_num + 1):
            x = np.dot(x, self.params[f"W{idx}"]) + self.params[f"b{idx}"]
            if self.use_batchnorm:
                x = self.bn[idx].forward(x, train_flg)
            x = self.activation(x)
            if self.use_dropout:
                u = None if dropout_u is None else dropout_u[idx]
                x = self.dropout[idx].forward(x, train_flg, u)
        idx = self.hidden_layer_num + 1
        return np.dot(x, self.params[f"W{idx}"]) + self.params[f"b{idx}"]

    def loss(self, x, t, train_flg=False, dropout_u=None):
        y = self.predict(x, train_flg, dropout_u)
        weight_decay = 0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params[f"W{idx}"]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W**2)
        return cross_entropy_error(softmax(y), t) + weight_decay

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])
