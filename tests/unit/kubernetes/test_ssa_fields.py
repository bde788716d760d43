"""Server-side apply's field sets and merge, table-style."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes import ssa

PORTS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {"type": "object"},
                },
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    },
}


@pytest.mark.parametrize(
    ("obj", "fields"),
    [
        ({"spec": {"size": 1}}, {("f:spec", "f:size")}),
        ({"spec": {"tags": ["a", "b"]}}, {("f:spec", "f:tags")}),  # atomic list
        (
            {"spec": {"ports": [{"name": "a", "port": 1}]}},
            {
                ("f:spec", "f:ports", 'k:{"name":"a"}', "f:name"),
                ("f:spec", "f:ports", 'k:{"name":"a"}', "f:port"),
            },
        ),
        (
            {"metadata": {"name": "x", "labels": {"app": "w"}}},
            {("f:metadata", "f:labels", "f:app")},
        ),
        ({"apiVersion": "v1", "kind": "K", "spec": {}}, {("f:spec",)}),
    ],
)
def test_leaves(obj: dict[str, Any], fields: set[ssa.Path]) -> None:
    assert ssa.leaves(obj, PORTS) == fields
    assert ssa.owned({"fieldsV1": ssa.fields_v1(fields)}) == fields  # managedFields round trip


def test_merge_keeps_other_items_of_a_map_list_and_replaces_atomic_lists() -> None:
    current = {
        "spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 2}], "tags": ["x"]}
    }
    applied = {"spec": {"ports": [{"name": "b", "port": 3}], "tags": ["y"]}}
    assert ssa.merge(current, applied, PORTS) == {
        "spec": {"ports": [{"name": "a", "port": 1}, {"name": "b", "port": 3}], "tags": ["y"]}
    }


def test_remove_and_path_text() -> None:
    obj = {"spec": {"ports": [{"name": "a", "port": 1}], "size": 2}}
    path = ("f:spec", "f:ports", 'k:{"name":"a"}')
    assert ssa.path_text((*path, "f:port")) == '.spec.ports[name="a"].port'
    ssa.remove(obj, path)
    ssa.remove(obj, ("f:spec", "f:size"))
    assert obj == {"spec": {"ports": []}}
