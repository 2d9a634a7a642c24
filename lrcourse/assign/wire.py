"""The grader's messages between its own process and the sandbox that runs a student's code.

Both ways a message is a frame: 4 bytes of length (big-endian), then the payload. The
grader sends pickles (the sandbox trusts the grader). The sandbox answers in JSON that
the grader decodes without running anything (a pickle from the student's side could run
code in the grader): numbers, strings, ``None``, ``...``, lists, tuples, dicts and numeric
numpy arrays and scalars, tagged as below. Anything else cannot cross: the student's
function "returned an object the grader cannot read", and the check fails.
"""

from __future__ import annotations

import base64
import json
import pickle
import struct

# Bound here, before any student code runs: a cell that replaces builtins.bool (say)
# does not change them for this module.
from builtins import bool, dict, float, int, isinstance, len, list, str, tuple, type  # noqa: A004, UP029

import numpy as np

MAX_FRAME = 64 * 2**20  # bytes; a larger answer is an error, not a memory bomb in the grader
NUMERIC = "biufc"  # numpy dtype kinds that may cross: bool, int, uint, float, complex


class WireError(Exception):
    """A frame that is too large, cut short or not readable."""


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def unframe(buffer):
    """``(payload, rest)`` if ``buffer`` starts with a whole frame, else ``(None, buffer)``."""
    if len(buffer) < 4:
        return None, buffer
    (size,) = struct.unpack(">I", buffer[:4])
    if size > MAX_FRAME:
        raise WireError(f"a message of {size} bytes (at most {MAX_FRAME})")
    if len(buffer) < 4 + size:
        return None, buffer
    return buffer[4 : 4 + size], buffer[4 + size :]


def to_sandbox(obj):
    """A frame for the sandbox: the grader's own objects, pickled."""
    return frame(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def from_grader(payload):
    return pickle.loads(payload)  # noqa: S301  (written by the grader, read in the sandbox)


def _plain(value, depth=0):
    if depth > 20:
        raise TypeError("nested more than 20 levels deep")
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind not in NUMERIC:
            raise TypeError(f"a numpy array of dtype {arr.dtype}")
        data = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        tag = "__scalar__" if isinstance(value, np.generic) else "__ndarray__"
        return {tag: [arr.dtype.newbyteorder("<").str, list(arr.shape), base64.b64encode(data).decode()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if value is Ellipsis:  # an answer not yet written, e.g. {"A": ...}
        return {"__ellipsis__": 0}
    if isinstance(value, tuple):  # a named tuple too: its items
        return {"__tuple__": [_plain(v, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k, depth + 1), _plain(v, depth + 1)] for k, v in value.items()]}
    raise TypeError(f"an object of type {type(value).__name__}")


def to_grader(obj):
    """A frame for the grader: ``obj`` made of plain values (see the module docstring).

    Raises ``TypeError`` naming the first value that cannot cross.
    """
    return frame(json.dumps(_plain(obj)).encode())


def _hook(d):
    if len(d) != 1:
        return d
    ((tag, v),) = d.items()
    if tag == "__tuple__":
        return tuple(v)
    if tag == "__ellipsis__":
        return Ellipsis
    if tag == "__dict__":
        return {_hashable(k): item for k, item in v}
    if tag in ("__ndarray__", "__scalar__"):
        dtype, shape, data = v
        dt = np.dtype(str(dtype))
        if dt.kind not in NUMERIC or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise WireError(f"an array of dtype {dtype} and shape {shape}")
        raw = base64.b64decode(data, validate=True)
        arr = np.frombuffer(raw, dtype=dt).reshape(shape).astype(dt.newbyteorder("="))
        return arr[()] if tag == "__scalar__" else arr
    return d


def _hashable(key):
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    if isinstance(key, np.ndarray):
        raise WireError("an array as a dict key")
    return key


def from_sandbox(payload):
    """The object a sandbox sent: plain values only, never code."""
    try:
        return json.loads(payload.decode(), object_hook=_hook)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise WireError(f"an unreadable message ({type(exc).__name__}: {exc})") from None
