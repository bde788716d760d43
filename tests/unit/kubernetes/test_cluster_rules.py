"""The emulated API server's rules, driven directly (no HTTP): each answer as a real server's."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes.cluster import Cluster
from cfgpu_operator.emulators.kubernetes.meta import generated_name
from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from cfgpu_operator.emulators.kubernetes.status import ApiStatus
from tests.integration.kubernetes.widgets import GROUP, PLURAL, VERSION, crd, widget

MERGE = "application/merge-patch+json"


@pytest.fixture
def cluster() -> Cluster:
    cluster = Cluster(seed=1)
    cluster.create(kind(cluster, "apiextensions.k8s.io", "customresourcedefinitions"), None, crd())
    return cluster


def kind(cluster: Cluster, group: str, plural: str, version: str = "v1") -> ResourceType:
    found = cluster.registry.get(group, version, plural)
    assert found is not None
    return found


def widgets(cluster: Cluster) -> ResourceType:
    return kind(cluster, GROUP, PLURAL, VERSION)


def rejected(call: Any, *args: Any) -> ApiStatus:
    with pytest.raises(ApiStatus) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"size": "3"},
            'spec.size: Invalid value: "string": spec.size in body must be of type '
            'integer: "string"',
        ),
        ({}, "spec.size: Required value"),
        (
            {"size": 3, "color": "green"},
            'spec.color: Unsupported value: "green": supported values: "red", "blue"',
        ),
        (
            {"size": 9},
            "spec.size: Invalid value: 9: spec.size in body should be less than or equal to 8",
        ),
        (
            {"size": 0},
            "spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1",
        ),
        ({"size": 1, "label": "abcdefghijk"}, "spec.label: Too long: may not be longer than 10"),
        (
            {"size": 1, "label": "ABC"},
            "spec.label: Invalid value: \"ABC\": spec.label in body should match '^[a-z]+$'",
        ),
        ({"size": 1, "tags": ["a", "b", "c"]}, "spec.tags: Too many: 3: must have at most 2 items"),
        (
            {"size": 1, "limits": {"cpu": "lots"}},
            'spec.limits.cpu: Invalid value: "string": spec.limits.cpu in body must be of type '
            'integer: "string"',
        ),
        (
            {"size": 1, "label": "forbidden"},
            "spec: Invalid value: \"object\": label may not be 'forbidden'",
        ),
    ],
)
def test_invalid_objects_get_the_real_servers_message(
    cluster: Cluster, spec: dict[str, Any], message: str
) -> None:
    error = rejected(
        cluster.create, widgets(cluster), "default", {"metadata": {"name": "w"}, "spec": spec}
    )
    assert (error.code, error.reason) == (422, "Invalid")
    assert error.message == f'Widget.example.com "w" is invalid: {message}'
    assert error.details is not None
    assert error.details["causes"][0]["field"] == message.split(":")[0]


def test_several_errors_are_listed_together(cluster: Cluster) -> None:
    error = rejected(
        cluster.create,
        widgets(cluster),
        "default",
        {"metadata": {"name": "w"}, "spec": {"size": 9, "color": "x"}},
    )
    assert error.message.startswith('Widget.example.com "w" is invalid: [')
    assert len(error.details["causes"]) == 2  # type: ignore[index]


def test_defaults_pruning_and_preserved_fields(cluster: Cluster) -> None:
    created = cluster.create(
        widgets(cluster),
        "default",
        {
            "metadata": {"name": "w"},
            "unknownTop": 1,
            "spec": {"size": 2, "junk": True, "note": None, "extra": {"any": {"thing": 1}}},
        },
    )
    assert created["spec"] == {
        "size": 2,
        "color": "red",
        "note": None,
        "extra": {"any": {"thing": 1}},
    }
    assert "unknownTop" not in created
    assert 'unknown field "spec.junk"' in cluster.warnings


@pytest.mark.parametrize(
    ("mode", "warnings"), [("Warn", ['unknown field "spec.junk"']), ("Ignore", [])]
)
def test_unknown_fields_are_pruned_with_or_without_a_warning(
    cluster: Cluster, mode: str, warnings: list[str]
) -> None:
    cluster.begin(mode)
    created = cluster.create(
        widgets(cluster), "default", {"metadata": {"name": "w"}, "spec": {"size": 2, "junk": 1}}
    )
    assert "junk" not in created["spec"]
    assert cluster.warnings == warnings


def test_strict_field_validation_refuses_unknown_fields_and_stores_nothing(
    cluster: Cluster,
) -> None:
    kind = widgets(cluster)
    cluster.begin("Strict")
    with pytest.raises(ApiStatus) as refused:
        cluster.create(kind, "default", {"metadata": {"name": "w"}, "spec": {"junk": 1, "x": 2}})
    assert refused.value.code == 400
    assert refused.value.message == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.junk", unknown field "spec.x"'
    )
    assert cluster.list_objects(kind, "default") == []
    cluster.begin()
    cluster.create(kind, "default", {"metadata": {"name": "w"}, "spec": {"size": 2}})
    cluster.begin("Strict")
    with pytest.raises(ApiStatus):
        cluster.patch(kind, "default", "w", MERGE, {"spec": {"junk": 1}})
    assert cluster.get(kind, "default", "w")["metadata"]["generation"] == 1


def test_null_in_a_non_nullable_field_is_dropped_then_defaulted(cluster: Cluster) -> None:
    created = cluster.create(
        widgets(cluster), "default", {"metadata": {"name": "w"}, "spec": {"size": 2, "color": None}}
    )
    assert created["spec"]["color"] == "red"


def test_cel_transition_rule_blocks_changes_but_not_creation(cluster: Cluster) -> None:
    cluster.create(widgets(cluster), "default", widget("w", size=2))
    error = rejected(cluster.patch, widgets(cluster), "default", "w", MERGE, {"spec": {"size": 3}})
    assert error.message == (
        'Widget.example.com "w" is invalid: spec.size: Invalid value: "integer": size is immutable'
    )
    same = cluster.patch(widgets(cluster), "default", "w", MERGE, {"spec": {"size": 2}})
    assert same["spec"]["size"] == 2


def test_rules_added_later_ratchet_on_unchanged_values() -> None:
    """KEP-4008: a stored object that breaks a rule the CRD gained later can still have its
    status written and its other fields left as they are; changing the value it guards
    re-runs the rule."""
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    loose = crd()
    spec_schema = loose["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    rules = spec_schema.pop("x-kubernetes-validations")
    cluster = Cluster(seed=1)
    cluster.create(kind(cluster, *crds), None, loose)
    cluster.create(widgets(cluster), "default", widget("w", size=2, label="forbidden"))
    stored = cluster.get(kind(cluster, *crds), None, loose["metadata"]["name"])
    tightened = {"spec": {"versions": [{**stored["spec"]["versions"][0]}]}}
    tightened["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-validations"
    ] = rules
    cluster.patch(kind(cluster, *crds), None, loose["metadata"]["name"], MERGE, tightened)

    status = {"status": {"phase": "Ready"}}
    written = cluster.patch(widgets(cluster), "default", "w", MERGE, status, "status")
    assert written["status"] == {"phase": "Ready"}
    annotated = {"metadata": {"annotations": {"a": "b"}}}
    cluster.patch(widgets(cluster), "default", "w", MERGE, annotated)
    error = rejected(
        cluster.patch, widgets(cluster), "default", "w", MERGE, {"spec": {"color": "blue"}}
    )
    assert "label may not be 'forbidden'" in error.message


def test_crd_with_a_broken_cel_rule_is_refused() -> None:
    cluster = Cluster()
    broken = crd()
    schema = broken["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "self.size >>> 1"}]
    error = rejected(
        cluster.create,
        kind(cluster, "apiextensions.k8s.io", "customresourcedefinitions"),
        None,
        broken,
    )
    assert error.code == 422
    assert "compilation failed" in error.message


def test_invalid_names(cluster: Cluster) -> None:
    error = rejected(cluster.create, widgets(cluster), "default", widget("Bad_Name"))
    assert 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in (
        error.message
    )
    error = rejected(cluster.create, widgets(cluster), "default", {"spec": {"size": 1}})
    assert "metadata.name: Required value: name or generateName is required" in error.message


def test_no_op_update_keeps_the_resource_version(cluster: Cluster) -> None:
    created = cluster.create(widgets(cluster), "default", widget("w"))
    again = cluster.patch(widgets(cluster), "default", "w", MERGE, {"spec": {"size": 3}})
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_update_of_a_custom_resource_needs_a_resource_version(cluster: Cluster) -> None:
    created = cluster.create(widgets(cluster), "default", widget("w"))
    del created["metadata"]["resourceVersion"]
    error = rejected(cluster.replace, widgets(cluster), "default", "w", created)
    assert "metadata.resourceVersion: Invalid value: 0: must be specified for an update" in (
        error.message
    )


def test_finalizers_hold_deletion_and_cannot_be_added_while_deleting(cluster: Cluster) -> None:
    kind_ = widgets(cluster)
    cluster.create(
        kind_, "default", {**widget("w"), "metadata": {"name": "w", "finalizers": ["a/b"]}}
    )
    held = cluster.delete(kind_, "default", "w")
    assert held["metadata"]["deletionTimestamp"]
    error = rejected(
        cluster.patch, kind_, "default", "w", MERGE, {"metadata": {"finalizers": ["a/b", "c/d"]}}
    )
    assert (
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
        'being deleted, found new finalizers []string{"c/d"}' in error.message
    )
    cluster.patch(kind_, "default", "w", MERGE, {"metadata": {"finalizers": None}})
    assert rejected(cluster.get, kind_, "default", "w").code == 404


def test_garbage_collection_follows_owner_references(cluster: Cluster) -> None:
    owner = cluster.create(widgets(cluster), "default", widget("owner"))
    ref = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Widget",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    configmaps = kind(cluster, "", "configmaps")
    cluster.create(configmaps, "default", {"metadata": {"name": "dep", "ownerReferences": [ref]}})
    cluster.create(configmaps, "default", {"metadata": {"name": "free"}})
    cluster.delete(widgets(cluster), "default", "owner")
    assert [o["metadata"]["name"] for o in cluster.list_objects(configmaps, "default")] == ["free"]


def test_deleting_a_namespace_deletes_its_content(cluster: Cluster) -> None:
    namespaces, configmaps = kind(cluster, "", "namespaces"), kind(cluster, "", "configmaps")
    cluster.create(namespaces, None, {"metadata": {"name": "team"}})
    cluster.create(
        widgets(cluster), "team", {**widget("w"), "metadata": {"name": "w", "finalizers": ["a/b"]}}
    )
    cluster.create(configmaps, "team", {"metadata": {"name": "c"}})
    terminating = cluster.delete(namespaces, None, "team")
    assert terminating["status"]["phase"] == "Terminating"
    error = rejected(cluster.create, configmaps, "team", {"metadata": {"name": "late"}})
    assert (error.code, error.reason) == (403, "Forbidden")
    assert cluster.list_objects(configmaps, "team") == []
    cluster.patch(widgets(cluster), "team", "w", MERGE, {"metadata": {"finalizers": []}})
    assert rejected(cluster.get, namespaces, None, "team").code == 404


def test_json_patch_test_failure_is_422(cluster: Cluster) -> None:
    cluster.create(widgets(cluster), "default", widget("w"))
    error = rejected(
        cluster.patch,
        widgets(cluster),
        "default",
        "w",
        "application/json-patch+json",
        [{"op": "test", "path": "/spec/size", "value": 99}],
    )
    assert error.code == 422


def test_apply_patch_is_not_supported(cluster: Cluster) -> None:
    cluster.create(widgets(cluster), "default", widget("w"))
    error = rejected(
        cluster.patch, widgets(cluster), "default", "w", "application/apply-patch+yaml", {}
    )
    assert error.code == 415


def test_a_taken_generated_name_is_drawn_again() -> None:
    # Kubernetes 1.31+ retries a generated name that is taken instead of answering 409
    # (KEP-4420): with 5 random characters, 30,000 Events already collide ~30 times.
    cluster = Cluster(seed=7)
    cluster.create(kind(cluster, "apiextensions.k8s.io", "customresourcedefinitions"), None, crd())
    first = generated_name("w-", random.Random(7))  # noqa: S311 - what the cluster draws first
    cluster.create(widgets(cluster), "default", widget(first))
    made = cluster.create(widgets(cluster), "default", {"metadata": {"generateName": "w-"}})
    assert made["metadata"]["name"].startswith("w-")
    assert made["metadata"]["name"] != first


def test_garbage_collection_follows_owner_references_added_and_removed_later(
    cluster: Cluster,
) -> None:
    configmaps = kind(cluster, "", "configmaps")
    owner = cluster.create(widgets(cluster), "default", widget("owner"))
    ref = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Widget", "name": "owner"}
    ref["uid"] = owner["metadata"]["uid"]
    for name in ("adopted", "released"):
        cluster.create(configmaps, "default", {"metadata": {"name": name}})
        cluster.patch(configmaps, "default", name, MERGE, {"metadata": {"ownerReferences": [ref]}})
    cluster.patch(configmaps, "default", "released", MERGE, {"metadata": {"ownerReferences": None}})
    cluster.delete(widgets(cluster), "default", "owner")
    assert [o["metadata"]["name"] for o in cluster.list_objects(configmaps, "default")] == [
        "released"
    ]
