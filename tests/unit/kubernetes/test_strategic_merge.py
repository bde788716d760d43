"""Strategic merge patches of built-in kinds, with the patch strategies of Kubernetes' own
schemas (kubernetes-validate), table-style."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes import builtin_schemas, strategic
from cfgpu_operator.emulators.kubernetes.registry import Registry

REGISTRY = Registry()


def deployment(*containers: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "d", "finalizers": ["a"]},
        "spec": {"template": {"spec": {"containers": list(containers)}}},
    }


APP = {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}]}
SIDE = {"name": "side", "image": "side:1"}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # an item merges with the one of the same name; the rest stays
        (
            {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:2"}]}}}},
            deployment({**APP, "image": "app:2"}, SIDE),
        ),
        # a nested list merges too (env by name)
        (
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [{"name": "app", "env": [{"name": "B", "value": "2"}]}]
                        }
                    }
                }
            },
            deployment(
                {**APP, "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}, SIDE
            ),
        ),
        # $patch: delete removes an item; an unknown name is added
        (
            {
                "spec": {
                    "template": {
                        "spec": {
                            "containers": [
                                {"name": "side", "$patch": "delete"},
                                {"name": "new", "image": "n:1"},
                            ]
                        }
                    }
                }
            },
            deployment(APP, {"name": "new", "image": "n:1"}),
        ),
        # $setElementOrder orders the merged list
        (
            {
                "spec": {
                    "template": {
                        "spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "app"}]}
                    }
                }
            },
            deployment(SIDE, APP),
        ),
        # a list of primitives with the merge strategy is a union; null deletes a field
        (
            {"metadata": {"finalizers": ["b"]}, "spec": {"template": None}},
            {"metadata": {"name": "d", "finalizers": ["a", "b"]}, "spec": {}},
        ),
        ({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, None),
    ],
)
def test_a_deployment_patched(change: dict[str, Any], expected: dict[str, Any] | None) -> None:
    kind = REGISTRY.get("apps", "v1", "deployments")
    assert kind is not None
    schema = builtin_schemas.root(kind)
    assert schema is not None  # the dev extra installs kubernetes-validate
    result = strategic.patch(deployment(APP, SIDE), change, schema)
    if expected is None:
        assert result["metadata"]["finalizers"] == []
    else:
        assert result == expected


def test_replace_directives_and_lists_without_a_strategy() -> None:
    kind = REGISTRY.get("", "v1", "configmaps")
    assert kind is not None
    schema = builtin_schemas.root(kind)
    original = {"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    replaced = strategic.patch(
        original, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}}, schema
    )
    assert replaced["metadata"]["labels"] == {"c": "3"}
    retained = strategic.patch(original, {"$retainKeys": ["metadata"]}, schema)
    assert retained == {"metadata": original["metadata"]}
