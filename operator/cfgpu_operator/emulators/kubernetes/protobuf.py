"""Request bodies in Kubernetes' protobuf encoding, for the built-in kinds kubectl sends so.

kubectl's typed clients (``kubectl create namespace``, ``create secret``, ...) send built-in
objects as ``application/vnd.kubernetes.protobuf``, which every real API server accepts: a
4-byte magic, then a ``runtime.Unknown`` holding the type and the object's own message. The
answers may stay JSON (kubectl accepts both). Only the kinds the emulator stores are decoded,
field numbers from k8s.io/api's generated.proto; Go's JSON omits empty fields, so empty
scalars are dropped here too.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from cfgpu_operator.emulators.kubernetes.status import ApiStatus

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# A field: (JSON name, type). Types: "string", "bytes", "int", "bool", "raw" (kept as bytes),
# a spec dict (a message), ("repeated", type) or ("map", value type).
Spec = dict[int, tuple[str, Any]]

TYPE_META: Spec = {1: ("apiVersion", "string"), 2: ("kind", "string")}
UNKNOWN: Spec = {1: ("typeMeta", TYPE_META), 2: ("raw", "raw")}
OWNER_REFERENCE: Spec = {
    1: ("kind", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("controller", "bool"),
    7: ("blockOwnerDeletion", "bool"),
}
OBJECT_META: Spec = {
    1: ("name", "string"),
    2: ("generateName", "string"),
    3: ("namespace", "string"),
    5: ("uid", "string"),
    6: ("resourceVersion", "string"),
    7: ("generation", "int"),
    11: ("labels", ("map", "string")),
    12: ("annotations", ("map", "string")),
    13: ("ownerReferences", ("repeated", OWNER_REFERENCE)),
    14: ("finalizers", ("repeated", "string")),
}
OBJECT_REFERENCE: Spec = {
    1: ("kind", "string"),
    2: ("namespace", "string"),
    3: ("name", "string"),
    4: ("uid", "string"),
    5: ("apiVersion", "string"),
    6: ("resourceVersion", "string"),
    7: ("fieldPath", "string"),
}
DELETE_OPTIONS: Spec = {
    1: ("gracePeriodSeconds", "int"),
    2: ("preconditions", {1: ("uid", "string"), 2: ("resourceVersion", "string")}),
    3: ("orphanDependents", "bool"),
    4: ("propagationPolicy", "string"),
    5: ("dryRun", ("repeated", "string")),
}
KINDS: dict[tuple[str, str], Spec] = {
    # A typed client's DELETE carries its options as a body (Helm purging a release).
    ("v1", "DeleteOptions"): DELETE_OPTIONS,
    ("meta.k8s.io/v1", "DeleteOptions"): DELETE_OPTIONS,
    ("v1", "Namespace"): {
        1: ("metadata", OBJECT_META),
        2: ("spec", {1: ("finalizers", ("repeated", "string"))}),
    },
    ("v1", "Secret"): {
        1: ("metadata", OBJECT_META),
        2: ("data", ("map", "bytes")),
        3: ("type", "string"),
        4: ("stringData", ("map", "string")),
        5: ("immutable", "bool"),
    },
    ("v1", "ConfigMap"): {
        1: ("metadata", OBJECT_META),
        2: ("data", ("map", "string")),
        3: ("binaryData", ("map", "bytes")),
        4: ("immutable", "bool"),
    },
    ("v1", "ServiceAccount"): {
        1: ("metadata", OBJECT_META),
        2: ("secrets", ("repeated", OBJECT_REFERENCE)),
        3: ("imagePullSecrets", ("repeated", {1: ("name", "string")})),
        4: ("automountServiceAccountToken", "bool"),
    },
}


def decode_object(body: bytes) -> dict[str, Any]:
    """The JSON form of a protobuf-encoded object, or 415 for what cannot be decoded."""
    if not body.startswith(MAGIC):
        raise unsupported("the body does not start with the Kubernetes protobuf magic")
    try:
        envelope = _message(body[len(MAGIC) :], UNKNOWN)
        meta = envelope.get("typeMeta") or {}
        key = (meta.get("apiVersion", ""), meta.get("kind", ""))
        spec = KINDS.get(key)
        if spec is None:
            raise unsupported(f"the emulator does not decode {key[1] or 'this kind'} from protobuf")
        obj = _message(envelope.get("raw", b""), spec)
    except (IndexError, ValueError, UnicodeDecodeError):
        raise ApiStatus(400, "BadRequest", "the request body is not valid protobuf") from None
    return {"apiVersion": key[0], "kind": key[1], **obj}


def unsupported(why: str) -> ApiStatus:
    return ApiStatus(415, "UnsupportedMediaType", f"{why}; send it as application/json")


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = buf[i]
        result |= (byte & 0x7F) << shift
        i += 1
        if byte < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            if i + size > len(buf):
                raise ValueError("truncated field")
            value, i = buf[i : i + size], i + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, i = int.from_bytes(buf[i : i + width], "little"), i + width
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def _message(buf: bytes, spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for number, raw in _fields(buf):
        if number not in spec:
            continue  # a field this emulator does not store: ignored, as unknown JSON is
        name, kind = spec[number]
        if isinstance(kind, tuple) and kind[0] == "repeated":
            out.setdefault(name, []).append(_scalar(raw, kind[1]))
        elif isinstance(kind, tuple):
            entry = _message(_bytes(raw), {1: ("k", "string"), 2: ("v", kind[1])})
            out.setdefault(name, {})[entry.get("k", "")] = entry.get("v", _empty(kind[1]))
        else:
            value = _scalar(raw, kind)
            if value not in (None, "", 0, False, {}):
                out[name] = value
    return out


def _scalar(raw: int | bytes, kind: Any) -> Any:
    if isinstance(kind, dict):
        return _message(_bytes(raw), kind)
    if kind == "raw":
        return _bytes(raw)
    if kind == "string":
        return _bytes(raw).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(_bytes(raw)).decode("ascii")
    if kind == "bool":
        return bool(raw)
    number = int(raw) if isinstance(raw, int) else 0
    return number - (1 << 64) if number >= 1 << 63 else number  # int64 two's complement


def _bytes(raw: int | bytes) -> bytes:
    if not isinstance(raw, bytes):
        raise ValueError("expected a length-delimited field")
    return raw


def _empty(kind: Any) -> Any:
    return "" if kind in ("string", "bytes") else None
