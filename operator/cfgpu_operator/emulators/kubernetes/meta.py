"""Object metadata rules: names, server-set fields, timestamps, patches."""

from __future__ import annotations

import copy
import random
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import jsonpatch

from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.status import ApiStatus, FieldError, bad_request

Obj = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# Kubernetes' generateName alphabet: no vowels, no look-alike characters.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
SERVER_SET = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "managedFields",
    "selfLink",
)


def timestamp(seconds: float) -> str:
    """RFC 3339 with a ``Z``, to the second, as metav1.Time serialises."""
    return datetime.fromtimestamp(int(seconds), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_errors(kind: ResourceType, name: str) -> list[FieldError]:
    namespaces = (kind.group, kind.plural) == ("", "namespaces")
    pattern, message, limit = (
        (_LABEL, LABEL_MESSAGE, 63) if namespaces else (_SUBDOMAIN, SUBDOMAIN_MESSAGE, 253)
    )
    if len(name) > limit:
        detail = f"must be no more than {limit} characters"
        return [FieldError("Invalid", "metadata.name", name, detail)]
    if not pattern.match(name):
        return [FieldError("Invalid", "metadata.name", name, message)]
    return []


def generated_name(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice(_SUFFIX_ALPHABET) for _ in range(5))


def new_uid() -> str:
    return str(uuid.uuid4())


def check_identity(kind: ResourceType, body: Any) -> Obj:
    """The body must be an object of this kind and apiVersion (or leave them out)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    version = body.get("apiVersion")
    if version not in (None, "", kind.api_version):
        raise bad_request(
            f"the API version in the data ({version}) does not match the expected API version "
            f"({kind.api_version})"
        )
    if body.get("kind") not in (None, "", kind.kind):
        raise bad_request(
            f"the kind in the data ({body.get('kind')}) does not match the expected kind "
            f"({kind.kind})"
        )
    obj: Obj = copy.deepcopy(body)
    obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    return obj


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(kind: ResourceType, name: str, target: Obj, operations: Any) -> Obj:
    """RFC 6902; a failed ``test`` or a bad path answers 422 as the real server does."""
    try:
        patched: Any = jsonpatch.JsonPatch(operations).apply(target)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise ApiStatus(422, "Invalid", str(exc), {"name": name, "kind": kind.plural}) from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise bad_request(f"invalid JSON patch: {exc}") from None
    if not isinstance(patched, dict):
        raise bad_request("a JSON patch must leave an object")
    return dict(patched)


def drop(obj: Obj, path: str) -> None:
    """Remove the field at a printed path (``spec.containers[0].bogus``) if it is there."""
    parts = [p for p in re.split(r"\.|\[(\d+)\]", path) if p]
    node: Any = obj
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) and part.isdigit() else node.get(part)
        if not isinstance(node, dict | list):
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)
