"""A test CRD exercising what the emulator must honour: schema, defaults, CEL, status."""

from __future__ import annotations

import copy
from typing import Any

GROUP, VERSION, PLURAL, KIND = "example.com", "v1", "widgets", "Widget"
API_VERSION = f"{GROUP}/{VERSION}"

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 8,
                    "x-kubernetes-validations": [
                        {"rule": "self == oldSelf", "message": "size is immutable"}
                    ],
                },
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "label": {"type": "string", "maxLength": 10, "pattern": "^[a-z]+$"},
                "note": {"type": "string", "nullable": True},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "limits": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.label) || self.label != 'forbidden'",
                    "message": "label may not be 'forbidden'",
                }
            ],
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def crd(served_versions: tuple[str, ...] = (VERSION,)) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": PLURAL,
                "singular": "widget",
                "kind": KIND,
                "shortNames": ["wd"],
                "categories": ["examples"],
            },
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": version == VERSION,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)},
                    "additionalPrinterColumns": [
                        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                    ],
                }
                for version in served_versions
            ],
        },
    }


def widget(name: str, size: int = 3, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name},
        "spec": {"size": size, **spec},
    }
