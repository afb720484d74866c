"""Save and load a training state (params, optimizer state, BatchNorm state, keys) in one file.

File layout (all integers little-endian)::

    b"JLCKPT\\x00\\x01"       8 bytes: magic and format version 1
    header length             8 bytes, uint64
    header                    UTF-8 JSON: leaves (path, kind, dtype, shape, offset, nbytes),
                              the tree structure, SHA-256 and length of the payload
    payload                   each leaf's raw bytes, C order, one after the other
    SHA-256                   32 bytes, of everything above (magic, length, header, payload)

Every dtype is stored bit-exactly as its raw bytes (bf16 as its 16-bit patterns, NaN payloads
and ``-0.0`` included). Typed PRNG keys (``jax.random.key``) are stored as their key data
(``jax.random.key_data``) with the implementation's name and rebuilt with
``jax.random.wrap_key_data``. ``save`` writes a temporary file in the destination's folder,
``fsync``\\ s it and renames it over the destination (``os.replace``), so a crash leaves either
the old file or the new one, never a half-written one.

Several processes (``jax.distributed``): every process calls ``save`` with its view of the same
tree; leaves sharded over the processes are gathered (``process_allgather``), process 0 alone
writes the one file (atomically, as above), and every process returns only once it is
written (or raises process 0's error). Every process calls ``load`` on that file (a shared
folder, or a copy on each host); with ``like`` each process fills only its own devices' shards.
So a file written by any number of processes loads on any other number, bit for bit, and a
save that any process does not survive leaves the previous file as it was: the only write is
process 0's rename, after every leaf has been gathered. See ``docs/scaling.md``.

The format is private to jaxlearn but simple: no pickle, nothing executed on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlearn._compat import weak_typed
from jaxlearn._files import atomic_path
from jaxlearn._util import is_prng_key

PyTree = Any

__all__ = ["CheckpointError", "CheckpointMismatchError", "load", "save"]

MAGIC = b"JLCKPT\x00\x01"
_LEN = struct.Struct("<Q")
_DIGEST = 32
_MAX_HEADER = 1 << 30


class CheckpointError(ValueError):
    """A checkpoint file is missing parts, corrupt, truncated or not a jaxlearn checkpoint."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint does not match ``like``: structure, shape, dtype or kind of a leaf."""


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def _key_entry(k: Any) -> dict:
    """One path entry as JSON: a dict key, a sequence index, an attribute or a flat index."""
    tu = jax.tree_util
    if isinstance(k, tu.DictKey):
        key = k.key
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, (str, int, np.integer)):
            raise TypeError(
                f"checkpoint: dict keys must be str or int, got {type(key).__name__} ({key!r})"
            )
        return {"dict": key if isinstance(key, str) else int(key)}
    if isinstance(k, tu.SequenceKey):
        return {"index": int(k.idx)}
    if isinstance(k, tu.GetAttrKey):
        return {"attr": k.name}
    if isinstance(k, tu.FlattenedIndexKey):
        return {"flat": int(k.key)}
    raise TypeError(f"checkpoint: unsupported pytree path entry {k!r}")


def _entry_str(e: dict) -> str:
    ((kind, v),) = e.items()
    return {"dict": f"[{v!r}]", "index": f"[{v}]", "attr": f".{v}", "flat": f"[<flat index {v}>]"}[
        kind
    ]


def _path_str(entries: list[dict]) -> str:
    return "".join(_entry_str(e) for e in entries) or "<root>"


def _flatten(tree: PyTree) -> tuple[list[tuple[list[dict], Any]], Any]:
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: x is None)
    return [([_key_entry(k) for k in path], leaf) for path, leaf in leaves], treedef


# --------------------------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------------------------


def _leaf_record(path: str, leaf: Any) -> tuple[dict, bytes]:
    """A leaf's header record (without offset) and its bytes."""
    if leaf is None:
        return {"kind": "none"}, b""
    rec: dict[str, Any] = {"kind": "array"}
    if is_prng_key(leaf):
        rec = {"kind": "key", "impl": str(jax.random.key_impl(leaf))}
        leaf = jax.random.key_data(leaf)
    elif isinstance(leaf, (bool, int, float, complex)) and not isinstance(leaf, np.generic):
        rec = {"kind": "scalar", "type": type(leaf).__name__}
    elif not isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
        raise TypeError(
            f"checkpoint: leaf {path} is a {type(leaf).__name__}; only arrays, Python numbers, "
            "PRNG keys and None can be saved"
        )
    else:
        rec["weak_type"] = bool(getattr(leaf, "weak_type", False))
    if (
        isinstance(leaf, jax.Array)
        and not leaf.is_fully_addressable
        and not leaf.is_fully_replicated
    ):  # sharded over several processes: every process takes part in gathering it
        from jax.experimental import multihost_utils

        leaf = multihost_utils.process_allgather(leaf, tiled=True)
    arr = np.asarray(jax.device_get(leaf))
    if arr.dtype.kind not in "biufc" and arr.dtype.name not in _EXTRA_DTYPES:
        raise TypeError(f"checkpoint: leaf {path} has dtype {arr.dtype}, which cannot be saved")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    if not arr.flags.c_contiguous:  # (np.ascontiguousarray would make a 0-d array 1-d)
        arr = arr.copy(order="C")
    rec.update(dtype=arr.dtype.name, shape=list(arr.shape))
    return rec, arr.tobytes()


#: ml_dtypes types (kind 'V' to NumPy) that are stored as their raw bits.
_EXTRA_DTYPES = {
    "bfloat16",
    "float8_e4m3fn",
    "float8_e4m3b11fnuz",
    "float8_e4m3fnuz",
    "float8_e5m2",
    "float8_e5m2fnuz",
    "int4",
    "uint4",
}


def save(path: str | os.PathLike, tree: PyTree) -> None:
    """Write ``tree`` to ``path`` atomically, in one file (see the module docstring).

    ``tree`` is any pytree (dicts, lists, tuples, NamedTuples such as optimizer states, nested,
    ``None`` leaves) of arrays (jax or NumPy, any numeric dtype including bf16/f16/f64), Python
    numbers and typed PRNG keys. Leaves are fetched to the host (a sharded array is gathered;
    the file does not record shardings, so it loads on any number of devices). The folder must
    exist; an existing file is replaced only once the new one is complete. With several
    processes (``jax.distributed``) every process calls it (a collective: leaves sharded over
    the processes are gathered), process 0 writes, and all return once the file is written.

    Raises ``TypeError`` naming the leaf path of a leaf that cannot be saved (a string, an
    object array). optax has no checkpointing; the usual tool is orbax
    (``orbax.checkpoint``), which writes a folder of files, one part per host, without
    gathering; this is one file with no dependency, gathered on process 0 (the whole state
    must fit in one host's memory: see ``docs/scaling.md``).

    >>> import os, tempfile, jax.numpy as jnp
    >>> from jaxlearn import checkpoint
    >>> f = os.path.join(tempfile.mkdtemp(), 'ckpt.jl')
    >>> checkpoint.save(f, {'w': jnp.arange(3.0, dtype=jnp.bfloat16), 'step': 7})
    >>> checkpoint.load(f)
    {'step': 7, 'w': Array([0, 1, 2], dtype=bfloat16)}
    """
    path = Path(os.fspath(path))
    leaves, treedef = _flatten(tree)
    if jax.process_count() > 1:
        _save_from_process_0(path, leaves, treedef)
        return
    _write(path, leaves, treedef)


def _save_from_process_0(path: Path, leaves: list, treedef: Any) -> None:
    """Several processes: every process gathers the sharded leaves (collectives, in the same
    order everywhere), process 0 writes, and every process learns whether it did."""
    from jaxlearn.train import processes

    error = None
    try:
        records = [_leaf_record(_path_str(entries), leaf) for entries, leaf in leaves]
        if processes.is_writer():
            _write(path, leaves, treedef, records)
    except (OSError, TypeError, ValueError) as e:
        error = f"{type(e).__name__}: {e}"
    outcome = processes.broadcast(error)  # process 0's: the only one that wrote
    if error is not None:
        raise CheckpointError(f"{path}: the checkpoint was not saved: {error}")
    if outcome is not None:
        raise CheckpointError(f"{path}: process 0 could not save the checkpoint: {outcome}")


def _write(path: Path, leaves: list, treedef: Any, records: list | None = None) -> None:
    """The file for ``leaves`` (with their ``(record, bytes)`` when already made), atomically."""
    if records is None:
        records = [_leaf_record(_path_str(entries), leaf) for entries, leaf in leaves]
    chunks, offset, header_leaves = [], 0, []
    for (entries, _), (rec, data) in zip(leaves, records):
        rec = {**rec, "path": entries, "offset": offset, "nbytes": len(data)}
        header_leaves.append(rec)
        chunks.append(data)
        offset += len(data)
    payload = b"".join(chunks)
    header = json.dumps(
        {
            "format": "jaxlearn-checkpoint",
            "version": 1,
            "treedef": str(treedef),
            "leaves": header_leaves,
            "payload_nbytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        },
        separators=(",", ":"),
    ).encode()
    body = MAGIC + _LEN.pack(len(header)) + header + payload
    blob = body + hashlib.sha256(body).digest()

    with atomic_path(path, durable=True) as tmp:
        tmp.write_bytes(blob)


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def _read(path: Path) -> tuple[dict, memoryview]:
    """The verified header and payload of a checkpoint file."""
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the file ({e.strerror or e})") from e
    if not blob.startswith(MAGIC[:6]):
        raise CheckpointError(f"{path}: not a jaxlearn checkpoint (bad magic bytes)")
    if blob[:8] != MAGIC:
        raise CheckpointError(f"{path}: unsupported checkpoint version {blob[6:8].hex()}")
    if len(blob) < len(MAGIC) + _LEN.size + _DIGEST:
        raise CheckpointError(f"{path}: truncated ({len(blob)} bytes)")
    body, digest = blob[:-_DIGEST], blob[-_DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        raise CheckpointError(
            f"{path}: checksum mismatch, the file is truncated or corrupt ({len(blob)} bytes)"
        )
    (hlen,) = _LEN.unpack_from(body, len(MAGIC))
    start = len(MAGIC) + _LEN.size
    if hlen > min(_MAX_HEADER, len(body) - start):
        raise CheckpointError(f"{path}: header length {hlen} exceeds the file")
    try:
        header = json.loads(body[start : start + hlen].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable header ({e})") from e
    payload = memoryview(body)[start + hlen :]
    if (
        not isinstance(header, dict)
        or header.get("format") != "jaxlearn-checkpoint"
        or header.get("payload_nbytes") != len(payload)
        or hashlib.sha256(payload).hexdigest() != header.get("payload_sha256")
    ):
        raise CheckpointError(f"{path}: header and payload disagree (corrupt file)")
    return header, payload


def _decode(path: Path, rec: dict, payload: memoryview) -> Any:
    """One leaf from its record: a jax array, a typed key, a Python number or None."""
    kind = rec["kind"]
    if kind == "none":
        return None
    dtype = jnp.dtype(rec["dtype"])
    shape = tuple(rec["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    if count * dtype.itemsize != rec["nbytes"]:
        raise CheckpointError(f"{path}: leaf {_path_str(rec['path'])} has an inconsistent size")
    raw = payload[rec["offset"] : rec["offset"] + rec["nbytes"]]
    arr = np.frombuffer(raw, dtype=dtype, count=count).reshape(shape).copy()
    if kind == "scalar":
        return {"bool": bool, "int": int, "float": float, "complex": complex}[rec["type"]](
            arr.item()
        )
    if kind == "key":
        return jax.random.wrap_key_data(jnp.asarray(arr), impl=rec["impl"])
    if jax.dtypes.canonicalize_dtype(dtype) != dtype:  # f64/i64 with x64 off: keep it exact
        return arr
    out = jnp.asarray(arr)
    if rec.get("weak_type"):
        out = weak_typed(out)
    return out



def _nested(records: list[dict], leaves: list[Any]) -> Any:
    """Rebuild nested dicts from the recorded paths (indices and attributes become keys)."""
    if len(records) == 1 and not records[0]["path"]:
        return leaves[0]
    root: dict = {}
    for rec, leaf in zip(records, leaves):
        keys = [next(iter(e.values())) for e in rec["path"]]
        node = root
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = leaf
    return root


def _describe(leaf: Any) -> tuple[str, str | None, tuple | None]:
    """(kind, dtype name, shape) of a ``like`` leaf."""
    if leaf is None:
        return "none", None, None
    if is_prng_key(leaf):
        return "key", str(jax.random.key_impl(leaf)), tuple(leaf.shape)
    if isinstance(leaf, (bool, int, float, complex)) and not isinstance(leaf, np.generic):
        return "scalar", type(leaf).__name__, ()
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return "array", jnp.dtype(leaf.dtype).name, tuple(leaf.shape)
    raise TypeError(f"like has a leaf of type {type(leaf).__name__}, not an array")


def _check_against(path: Path, records: list[dict], header: dict, like: PyTree) -> Any:
    """Raise CheckpointMismatchError at the first leaf where the file and ``like`` differ."""
    like_leaves, treedef = _flatten(like)
    for i, (entries, leaf) in enumerate(like_leaves):
        where = _path_str(entries)
        if i >= len(records):
            raise CheckpointMismatchError(
                f"{path}: like has a leaf at {where} that the checkpoint lacks"
            )
        rec = records[i]
        if rec["path"] != entries:
            raise CheckpointMismatchError(
                f"{path}: structure mismatch: the checkpoint has a leaf at "
                f"{_path_str(rec['path'])} where like has one at {where}"
            )
        kind, dtype, shape = _describe(leaf)
        if kind != rec["kind"]:
            raise CheckpointMismatchError(
                f"{path}: leaf {where} is a {rec['kind']} in the checkpoint but a {kind} in like"
            )
        if kind == "none":
            continue
        saved_dtype = {"key": rec.get("impl"), "scalar": rec.get("type")}.get(
            kind, rec.get("dtype")
        )
        saved_shape = tuple(rec["shape"])
        if kind == "key":
            saved_shape = saved_shape[: len(saved_shape) - _key_data_ndim(rec["impl"])]
        if saved_dtype != dtype:
            raise CheckpointMismatchError(
                f"{path}: leaf {where} has dtype {saved_dtype} in the checkpoint but {dtype} in "
                "like"
            )
        if saved_shape != shape:
            raise CheckpointMismatchError(
                f"{path}: leaf {where} has shape {saved_shape} in the checkpoint but {shape} "
                "in like"
            )
    if len(records) > len(like_leaves):
        raise CheckpointMismatchError(
            f"{path}: the checkpoint has a leaf at {_path_str(records[len(like_leaves)]['path'])} "
            "that like lacks"
        )
    if header.get("treedef") != str(treedef):
        raise CheckpointMismatchError(
            f"{path}: same leaf paths but different container types: the checkpoint has "
            f"{header.get('treedef')}, like has {treedef}"
        )
    return like_leaves, treedef


def _committed(x: jax.Array) -> bool:
    """Whether ``x`` was placed explicitly (committed to its devices).

    A loaded leaf is put on ``like``'s sharding only then: committing an array that ``like``
    left uncommitted changes a jitted function's cache key and recompiles it.
    """
    committed = getattr(x, "_committed", None)
    if committed is None:  # pragma: no cover - private attribute gone: compare placements
        return x.sharding.device_set != {jax.local_devices()[0]}
    return bool(committed)


def _place(x: jax.Array, sharding: jax.sharding.Sharding) -> jax.Array:
    """``x`` laid out as ``sharding``; on several hosts each process fills its own shards."""
    if sharding.is_fully_addressable:
        return jax.device_put(x, sharding)
    if is_prng_key(x):  # place the key data (its trailing dims replicated), then wrap it
        data = _place(jax.random.key_data(x), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def _key_data_ndim(impl: str) -> int:
    return jax.random.key_data(jax.random.key(0, impl=impl)).ndim


def load(path: str | os.PathLike, like: PyTree | None = None) -> PyTree:
    """Read a checkpoint written by :func:`save`.

    The whole file is verified first (magic, version, SHA-256 of header and payload), so a
    truncated or corrupt file raises :class:`CheckpointError` instead of loading garbage.

    - ``like=None``: a nested dict of jax arrays (NumPy arrays for 64-bit dtypes while
      ``jax_enable_x64`` is off, so that no bit is lost) keyed by the saved paths (dict keys as they
      were; list/tuple indices as int keys; NamedTuple fields by name), with ``None`` leaves,
      typed PRNG keys and Python numbers as saved. A bare array saved at the root comes back
      bare.
    - ``like`` a pytree (e.g. a fresh ``(params, opt.init(params), bn_state)``, or
      ``jax.eval_shape`` of one): the result has ``like``'s structure, NamedTuple classes
      included; each leaf must match in path, kind, dtype and shape, else
      :class:`CheckpointMismatchError` names the first mismatching leaf path. An array whose
      ``like`` leaf is committed to a device or sharding is put there (any sharding: a file
      written from 8 devices loads onto 1 and the other way round); weak types are
      restored; so a jitted step fed the loaded state does not recompile.

    >>> import os, tempfile, jax, jax.numpy as jnp, jaxlearn as jl
    >>> from jaxlearn import checkpoint
    >>> f = os.path.join(tempfile.mkdtemp(), 'ckpt.jl')
    >>> opt = jl.adam()
    >>> params = {'w': jnp.ones(2)}
    >>> checkpoint.save(f, (params, opt.init(params)))
    >>> _, state = checkpoint.load(f, like=(params, opt.init(params)))
    >>> type(state).__name__, state.count
    ('AdamState', Array(0, dtype=int32))
    >>> checkpoint.load(f, like=({'w': jnp.ones(3)}, opt.init(params)))
    Traceback (most recent call last):
    ...
    jaxlearn.checkpoint.CheckpointMismatchError: ...: leaf [0]['w'] has shape (2,) in the \
checkpoint but (3,) in like
    """
    path = Path(os.fspath(path))
    header, payload = _read(path)
    records = header["leaves"]
    if like is not None:
        like_leaves, treedef = _check_against(path, records, header, like)
    try:
        leaves = [_decode(path, rec, payload) for rec in records]
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"{path}: malformed leaf record ({e!r})") from e
    if like is None:
        return _nested(records, leaves)
    out = []
    for (_, ref), leaf in zip(like_leaves, leaves):
        if isinstance(ref, np.ndarray) and isinstance(leaf, jax.Array):
            leaf = np.asarray(leaf)
        elif isinstance(ref, jax.Array) and isinstance(leaf, jax.Array) and _committed(ref):
            leaf = _place(leaf, ref.sharding)
        out.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, out)
