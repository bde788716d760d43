"""Pure pieces of the Kubernetes emulator, table-style."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.emulators.kubernetes import openapi
from cfgpu_operator.emulators.kubernetes.app import warning_header
from cfgpu_operator.emulators.kubernetes.discovery import preferred
from cfgpu_operator.emulators.kubernetes.paths import Discovery, Target, parse
from cfgpu_operator.emulators.kubernetes.registry import Registry
from cfgpu_operator.emulators.kubernetes.selectors import field_matcher, label_matcher
from cfgpu_operator.emulators.kubernetes.status import ApiStatus, field_validation
from cfgpu_operator.emulators.kubernetes.table import human_duration, jsonpath

LABELS = {"metadata": {"name": "n", "namespace": "ns", "labels": {"env": "prod", "tier": "web"}}}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("env=prod", True),
        ("env==prod", True),
        ("env=dev", False),
        ("env!=dev", True),
        ("missing!=x", True),
        ("env in (dev, prod)", True),
        ("env notin (prod)", False),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("env=prod, tier in (web,api)", True),
        ("env=prod,tier=db", False),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert label_matcher(selector)(LABELS) is matches


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("metadata.name=n", True),
        ("metadata.name!=n", False),
        ("metadata.namespace=ns,metadata.name=n", True),
        ("metadata.namespace=other", False),
    ],
)
def test_field_selectors(selector: str, matches: bool) -> None:
    assert field_matcher(selector)(LABELS) is matches


@pytest.mark.parametrize("selector", ["spec.size=3", "metadata.name"])
def test_unsupported_field_selectors_are_400(selector: str) -> None:
    with pytest.raises(ApiStatus) as caught:
        field_matcher(selector)
    assert caught.value.code == 400


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/version", Discovery("version")),
        ("/api", Discovery("core")),
        ("/api/v1", Discovery("core-resources", "", "v1")),
        ("/apis", Discovery("groups")),
        ("/apis/coordination.k8s.io", Discovery("group", "coordination.k8s.io")),
        ("/apis/coordination.k8s.io/v1", Discovery("group-resources", "coordination.k8s.io", "v1")),
    ],
)
def test_discovery_paths(path: str, expected: Discovery) -> None:
    assert parse(Registry(), path) == expected


@pytest.mark.parametrize(
    ("path", "plural", "namespace", "name", "sub"),
    [
        ("/api/v1/namespaces", "namespaces", None, None, None),
        ("/api/v1/namespaces/team", "namespaces", None, "team", None),
        ("/api/v1/namespaces/team/status", "namespaces", None, "team", "status"),
        ("/api/v1/namespaces/team/configmaps", "configmaps", "team", None, None),
        ("/api/v1/namespaces/team/configmaps/c", "configmaps", "team", "c", None),
        ("/api/v1/configmaps", "configmaps", None, None, None),
        ("/apis/coordination.k8s.io/v1/namespaces/x/leases/l", "leases", "x", "l", None),
    ],
)
def test_resource_paths(
    path: str, plural: str, namespace: str | None, name: str | None, sub: str | None
) -> None:
    target = parse(Registry(), path)
    assert isinstance(target, Target)
    assert (target.kind.plural, target.namespace, target.name, target.subresource) == (
        plural,
        namespace,
        name,
        sub,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/apis/nope/v1/things",
        "/api/v1/namespaces/x/configmaps/c/status",
        "/api/v2/pods",
        "/api/v1/namespaces/a/b/c/d/e",
    ],
)
def test_unknown_paths_are_404(path: str) -> None:
    with pytest.raises(ApiStatus) as caught:
        parse(Registry(), path)
    assert caught.value.code == 404


@pytest.mark.parametrize(
    ("versions", "best"),
    [
        (["v1alpha1", "v1"], "v1"),
        (["v1beta1", "v1alpha2"], "v1beta1"),
        (["v2", "v1"], "v2"),
        (["v1beta2", "v1beta10"], "v1beta10"),
    ],
)
def test_preferred_version(versions: list[str], best: str) -> None:
    assert preferred(versions) == best


OBJ: dict[str, Any] = {
    "spec": {"size": 3, "list": [1, 2]},
    "status": {
        "conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready", "status": "False"}]
    },
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        (".spec.size", [3]),
        (".spec.list[1]", [2]),
        (".spec.list[*]", [1, 2]),
        ('.status.conditions[?(@.type=="Ready")].status', ["False"]),
        (".status.conditions[?(@.type=='Synced')].status", ["True"]),
        (".status.phase", []),
        (".spec.list[9]", []),
    ],
)
def test_printer_column_json_paths(path: str, found: list[Any]) -> None:
    assert jsonpath(OBJ, path) == found


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5, "5s"),
        (119, "119s"),
        (150, "2m30s"),
        (600, "10m"),
        (3 * 3600 + 120, "3h2m"),
        (9 * 3600, "9h"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
        (-4, "0s"),
    ],
)
def test_ages_print_like_kubectl(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("query", "mode"),
    [({}, "Warn"), ({"fieldValidation": ""}, "Warn"), ({"fieldValidation": "Strict"}, "Strict")],
)
def test_field_validation_directive(query: dict[str, str], mode: str) -> None:
    assert field_validation(query) == mode


def test_an_unknown_field_validation_directive_is_refused() -> None:
    with pytest.raises(ApiStatus) as refused:
        field_validation({"fieldValidation": "strict"})
    assert refused.value.code == 400
    assert 'Unsupported value: "strict"' in refused.value.message


def test_warning_headers_quote_their_text() -> None:
    assert warning_header('unknown field "spec.x"') == r'299 - "unknown field \"spec.x\""'


def test_every_kind_tells_kubectl_that_the_server_validates_fields() -> None:
    """What kubectl apply checks before sending fieldValidation=Strict: the kind's group
    version is listed, and a PATCH operation for its GVK takes that query parameter."""
    registry = Registry()
    listed = openapi.index(registry)["paths"]
    for kind in registry:
        relative = f"apis/{kind.group}/{kind.version}" if kind.group else f"api/{kind.version}"
        assert relative in listed
        doc = openapi.document(registry, kind.group, kind.version)
        assert doc is not None
        gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}
        patches = [
            item["patch"]
            for item in doc["paths"].values()
            if item["patch"]["x-kubernetes-group-version-kind"] == gvk
        ]
        assert [p["name"] for p in patches[0]["parameters"] if p["in"] == "query"] == [
            "fieldValidation"
        ]
