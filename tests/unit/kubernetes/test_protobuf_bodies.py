"""Protobuf request bodies (what kubectl's typed clients send), decoded to JSON objects."""

from __future__ import annotations

import pytest

from cfgpu_operator.emulators.kubernetes.protobuf import MAGIC, decode_object
from cfgpu_operator.emulators.kubernetes.status import ApiStatus


def varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


def field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return field(number, field(1, key) + field(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + field(1, field(1, api_version) + field(2, kind)) + field(2, raw)


# ObjectMeta as Go marshals it: every string field, empty ones too.
META = field(1, "s1") + field(2, "") + field(3, "ml") + field(5, "") + field(7, 0)


def test_a_secret_decodes_with_its_data_labels_and_type() -> None:
    meta = META + entry(11, "team", "a") + field(14, "example.com/keep")
    secret = (
        field(1, meta)
        + entry(2, "token", b"abc")
        + entry(2, "empty", b"")
        + field(3, "Opaque")
        + entry(4, "plain", "text")
        + field(99, "a field this emulator does not know")
    )
    assert decode_object(envelope("v1", "Secret", secret)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "s1",
            "namespace": "ml",
            "labels": {"team": "a"},
            "finalizers": ["example.com/keep"],
        },
        "data": {"token": "YWJj", "empty": ""},
        "type": "Opaque",
        "stringData": {"plain": "text"},
    }


def test_a_namespace_with_owner_references() -> None:
    owner = field(1, "ConfigMap") + field(3, "c") + field(4, "u1") + field(5, "v1") + field(6, 1)
    meta = field(1, "x") + field(13, owner)
    body = envelope("v1", "Namespace", field(1, meta) + field(2, field(1, "kubernetes")))
    assert decode_object(body)["metadata"]["ownerReferences"] == [
        {"kind": "ConfigMap", "name": "c", "uid": "u1", "apiVersion": "v1", "controller": True}
    ]
    assert decode_object(body)["spec"] == {"finalizers": ["kubernetes"]}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{}", 415),  # not the protobuf magic
        (envelope("apps/v1", "Deployment", field(1, META)), 415),  # a kind not decoded
        (envelope("v1", "Secret", field(1, META))[:-3], 400),  # truncated
    ],
)
def test_what_cannot_be_decoded_is_refused(body: bytes, code: int) -> None:
    with pytest.raises(ApiStatus) as caught:
        decode_object(body)
    assert caught.value.code == code
