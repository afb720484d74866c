"""Experiment results as JSON: NumPy/JAX arrays become lists, everything else stays plain."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from jaxlearn._files import atomic_path


def to_jsonable(obj: Any) -> Any:
    """Convert nested dicts/lists/tuples of arrays and numbers into JSON-ready Python values.

    >>> to_jsonable({'a': np.arange(3), 'b': (np.float32(1.5), None)})
    {'a': [0, 1, 2], 'b': [1.5, None]}
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "__array__") and not isinstance(obj, (str, bytes)):
        arr = np.asarray(obj)
        return arr.tolist() if arr.ndim else arr.item()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def save_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(obj), indent=1, allow_nan=True))
    return path
