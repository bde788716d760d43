"""The Helm chart, rendered by Helm's own engine and checked against Kubernetes' schemas."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

from cfgpu_operator.settings import Settings, load_settings
from tests.chart.render import (
    CHART,
    MANIFESTS,
    ROOT,
    chart_crds,
    is_hook,
    manifest_files,
    notes,
    objects,
)

KUBE_VERSION = "1.30.0"
# Kinds whose schema ships with a CRD of another project, not with Kubernetes.
FOREIGN_KINDS = {"ServiceMonitor"}

EVERYTHING_ON: dict[str, Any] = {
    "replicaCount": 1,
    "leaderElection": {"enabled": False},
    "watchNamespaces": ["ml", "research"],
    "credentials": {"existingSecret": "gpu-cloud", "cfgpuTokenKey": "token"},
    "safe": {"url": "https://safe.example.com"},
    "defaultDeletionPolicy": "Orphan",
    "settings": {"pollSlow": 120, "rateLimit": 2},
    "logFormat": "text",
    "logLevel": "DEBUG",
    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    "networkPolicy": {
        "enabled": True,
        "metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        "egressTo": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
    },
    "nodeSelector": {"pool": "system"},
    "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {"podAntiAffinity": {}},
    "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
    "podAnnotations": {"team": "ml-platform"},
    "image": {"tag": "9.9.9", "pullPolicy": "Always"},
}


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = by_kind(objs, "Deployment")
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(found)


def env(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(objs)["env"]}


def test_lint_finds_nothing() -> None:
    for values in ({}, EVERYTHING_ON):
        report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
        assert report["errors"] == []
        assert report["messages"] == []  # not even the advice to add an icon


def test_chart_metadata_points_at_the_project_and_its_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    for field in ("home", "sources", "maintainers", "icon", "kubeVersion"):
        assert chart.get(field), field
    assert f"/v{chart['appVersion']}/" in chart["icon"]
    assert (ROOT / chart["icon"].split(f"/v{chart['appVersion']}/", 1)[1]).is_file()


@pytest.mark.parametrize("values", [{}, EVERYTHING_ON], ids=["defaults", "everything-on"])
def test_every_manifest_is_valid_for_kubernetes(values: dict[str, Any]) -> None:
    objs = objects(values)
    assert objs
    for obj in objs:
        if obj["kind"] in FOREIGN_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    for text in chart_crds().values():
        kubernetes_validate.validate(yaml.safe_load(text), KUBE_VERSION, strict=True)


def test_defaults_run_two_replicas_cluster_wide_with_metrics_and_a_hardened_pod() -> None:
    objs = [o for o in objects() if not is_hook(o)]
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == sorted(
        [
            *("CustomResourceDefinition",) * 3,
            *("ServiceAccount", "Deployment", "Service", "PodDisruptionBudget"),
            *("ClusterRole", "ClusterRoleBinding"),  # the operator's
            *("ClusterRole", "ClusterRoleBinding"),  # CRD discovery
            *("ClusterRole", "ClusterRole"),  # aggregated view and edit
            *("Role", "RoleBinding"),  # the leader Lease
            *("Role", "RoleBinding"),  # the cluster id's ConfigMap and its Events
        ]
    )
    main = container(objs)
    assert main["args"] == [
        "run",
        "--all-namespaces",
        "--liveness=http://0.0.0.0:8081/healthz",
        "--metrics-port=8080",
    ]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    security = main["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    (deployment,) = by_kind(objs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert deployment["spec"]["replicas"] == 2
    spec = deployment["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"kubernetes.io/os": "linux"}
    (spread,) = spec["topologySpreadConstraints"]  # the standby away from the leader
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (budget,) = by_kind(objs, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    for crd in by_kind(objs, "CustomResourceDefinition"):
        assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    variables = env(objs)
    assert "CFGPU_API_TOKEN" not in variables  # no Secret configured: nothing referenced
    assert variables["CFGPU_OPERATOR_LEASE_NAMESPACE"] == {
        "fieldRef": {"fieldPath": "metadata.namespace"}
    }


def test_non_default_values_reach_the_manifests() -> None:
    objs = objects(EVERYTHING_ON)
    main = container(objs)
    assert main["image"] == "ghcr.io/cfgpu/cfgpu-operator:9.9.9"
    assert "--standalone" in main["args"]
    assert [a for a in main["args"] if a.startswith("--namespace")] == [
        "--namespace=ml",
        "--namespace=research",
    ]
    variables = env(objs)
    assert variables["CFGPU_API_TOKEN"]["secretKeyRef"]["name"] == "gpu-cloud"
    assert variables["CFGPU_API_TOKEN"]["secretKeyRef"]["key"] == "token"
    assert variables["SAFE_API_URL"] == "https://safe.example.com"
    assert variables["CFGPU_OPERATOR_POLL_SLOW"] == "120"
    assert variables["CFGPU_OPERATOR_DEFAULT_DELETION_POLICY"] == "Orphan"
    assert variables["HTTPS_PROXY"] == "http://proxy:3128"
    # Namespaced: Roles in each watched namespace, no operator ClusterRole or Secret.
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind(objs, "Role")}
    assert roles == {
        ("ml", "cfgpu-operator"),
        ("research", "cfgpu-operator"),
        ("cfgpu-system", "cfgpu-operator-cluster"),  # the cluster id, whatever is watched
    }
    names = {r["metadata"]["name"] for r in by_kind(objs, "ClusterRole")}
    assert names == {"cfgpu-operator-view", "cfgpu-operator-edit", "cfgpu-operator-discovery"}
    (discovery,) = by_kind(objs, "ClusterRoleBinding")
    assert discovery["roleRef"]["name"] == "cfgpu-operator-discovery"
    assert by_kind(objs, "Secret") == []
    (monitor,) = by_kind(objs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    (policy,) = by_kind(objs, "NetworkPolicy")
    assert policy["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
    (deployment,) = by_kind(objs, "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"pool": "system", "kubernetes.io/os": "linux"}  # merged
    assert spec["tolerations"][0]["key"] == "dedicated"
    assert deployment["spec"]["template"]["metadata"]["annotations"] == {"team": "ml-platform"}


def test_day_two_values_reach_the_manifests() -> None:
    digest = "sha256:" + "ab" * 32
    bundle = {"name": "ca", "configMap": {"name": "corp-ca"}}
    objs = objects(
        {
            "image": {"tag": "9.9.9", "digest": digest},
            "commonLabels": {"team": "ml-platform"},
            "deploymentAnnotations": {"owner": "gpu-team"},
            "revisionHistoryLimit": 3,
            "extraArgs": ["--verbose"],
            "extraVolumes": [bundle],
            "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/ssl/corp"}],
            "livenessProbe": {"periodSeconds": 7},
            "startupProbe": {"enabled": False},
            "serviceAccount": {"automountServiceAccountToken": False, "labels": {"a": "b"}},
            "topologySpreadConstraints": [{"maxSkew": 2, "topologyKey": "zone"}],
            "crds": {"keep": False},
        }
    )
    main = container(objs)
    assert main["image"] == f"ghcr.io/cfgpu/cfgpu-operator@{digest}"  # the digest pins it
    assert main["args"][-1] == "--verbose"
    assert {"name": "ca", "mountPath": "/etc/ssl/corp"} in main["volumeMounts"]
    assert main["livenessProbe"]["periodSeconds"] == 7
    assert main["livenessProbe"]["failureThreshold"] == 3  # the rest of the default kept
    assert "startupProbe" not in main
    (deployment,) = by_kind(objs, "Deployment")
    assert deployment["metadata"]["annotations"] == {"owner": "gpu-team"}
    assert deployment["spec"]["revisionHistoryLimit"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert bundle in pod["volumes"]
    assert pod["topologySpreadConstraints"] == [{"maxSkew": 2, "topologyKey": "zone"}]
    assert pod["automountServiceAccountToken"] is True  # the operator needs its token
    (account,) = by_kind(objs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["labels"]["a"] == "b"
    assert all(o["metadata"]["labels"]["team"] == "ml-platform" for o in objs)
    for crd in by_kind(objs, "CustomResourceDefinition"):
        assert "annotations" not in crd["metadata"]  # uninstall deletes them


def test_one_replica_gets_no_disruption_budget_or_spread() -> None:
    objs = objects({"replicaCount": 1})
    assert by_kind(objs, "PodDisruptionBudget") == []  # it could only block node drains
    (deployment,) = by_kind(objs, "Deployment")
    assert "topologySpreadConstraints" not in deployment["spec"]["template"]["spec"]


def test_crds_can_be_left_to_the_user() -> None:
    assert by_kind(objects({"crds": {"enabled": False}}), "CustomResourceDefinition") == []


def test_tokens_from_values_go_into_a_secret_and_roll_the_pods() -> None:
    first = objects({"credentials": {"cfgpuToken": "tok-1"}})
    (secret,) = by_kind(first, "Secret")
    assert set(secret["data"]) == {"CFGPU_API_TOKEN"}
    ref = env(first)["CFGPU_API_TOKEN"]["secretKeyRef"]
    assert ref["name"] == secret["metadata"]["name"]
    second = objects({"credentials": {"cfgpuToken": "tok-2"}})

    def checksum(objs: list[dict[str, Any]]) -> str:
        (deployment,) = by_kind(objs, "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"])

    assert checksum(first) != checksum(second)


def test_metrics_off_removes_the_port_and_the_service() -> None:
    objs = objects({"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}})
    assert "--metrics-port=0" in container(objs)["args"]
    assert by_kind(objs, "Service") == []
    assert by_kind(objs, "ServiceMonitor") == []


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"logFormat": "xml"}, "/logFormat"),
        ({"defaultDeletionPolicy": "Delete"}, "/defaultDeletionPolicy"),
        ({"watchNamespaces": ["Bad_NS"]}, "/watchNamespaces/0"),
        ({"cfgpu": {"url": "ftp://example.com"}}, "/cfgpu/url"),
        ({"settings": {"pollFast": 0}}, "/settings/pollFast"),
        ({"image": {"digest": "latest"}}, "/image/digest"),
        ({"extraArgs": ["standalone"]}, "/extraArgs/0"),
        ({"livenessProbe": {"periodSeconds": 0}}, "/livenessProbe/periodSeconds"),
        ({"metrics": {"port": 70000}}, "/metrics/port"),
        ({"replicas": 3}, "'replicas' not allowed"),
    ],
)
def test_bad_values_fail_on_the_schema(values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm.HelmValuesError) as failure:
        objects(values)
    assert complaint in str(failure.value)


@pytest.mark.parametrize(
    ("values", "sentence"),
    [
        (
            {"leaderElection": {"enabled": False}},  # with the default two replicas
            "replicaCount is 2 but leaderElection.enabled is false: every replica would act",
        ),
        (
            {"settings": {"pollFast": 90}},
            "settings.pollFast (90) is larger than settings.pollSlow (60): the operator would",
        ),
        (
            {"settings": {"backoffBase": 400}},
            "settings.backoffBase (400) is larger than settings.backoffMax (300)",
        ),
        (
            {"credentials": {"existingSecret": "s", "cfgpuToken": "tok-secret-123"}},
            "credentials.existingSecret is set together with a token in credentials",
        ),
    ],
)
def test_values_that_conflict_fail_the_install_with_a_sentence(
    values: dict[str, Any], sentence: str
) -> None:
    """Each passes the schema alone; together the operator would misbehave or not start."""
    with pytest.raises(helm.HelmRenderError) as failure:
        objects(values)
    assert sentence in str(failure.value)
    assert "tok-secret-123" not in str(failure.value)


def test_chart_crds_are_the_generated_ones() -> None:
    generated = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "crds").glob("*.yaml")}
    assert chart_crds() == generated, "copy crds/*.yaml into deploy/helm/cfgpu-operator/files/crds/"


def test_plain_manifests_are_rendered_from_the_chart() -> None:
    expected = manifest_files()
    found = {p.name: p.read_text(encoding="utf-8") for p in MANIFESTS.glob("*.yaml")}
    assert found == expected, "stale: run `python -m tests.chart.render --write`"


def test_every_operator_setting_is_a_chart_value() -> None:
    """The Deployment sets every CFGPU_OPERATOR_* setting, so values.yaml covers them all."""
    prices = {"RTX 4090": {"Usage": 1.89, "Day": 40}}
    values = {"credentials": {"cfgpuToken": "t"}, "safe": {"url": "https://s"}, "prices": prices}
    variables = env(objects(values))
    assert set(Settings.model_fields) <= set(variables)
    # The price table reaches the operator as the JSON it parses.
    plain = {k: v for k, v in variables.items() if isinstance(v, str)}
    assert prices == load_settings(plain).CFGPU_OPERATOR_PRICES


def test_notes_tell_how_to_check_the_install() -> None:
    text = notes()
    assert "kubectl -n cfgpu-system get pods" in text
    assert "get lease cfgpu-operator" in text
    assert "No operator-wide CFGPU token" in text
    assert "No operator-wide" not in notes({"credentials": {"existingSecret": "gpu"}})
    # Links name the chart's own version, never a branch that moves on.
    links = re.findall(r"https://\S+", text)
    assert links
    assert all("/v0.1.0/" in link for link in links if "github" in link), links
    assert "/main/" not in text


def test_chart_layout() -> None:
    for name in ("Chart.yaml", "values.yaml", "values.schema.json", "templates/NOTES.txt"):
        assert (CHART / name).is_file(), name
    # Helm installs crds/ once and never upgrades it: the CRDs are templates instead.
    assert not Path(CHART / "crds").exists()


def test_helm_test_checks_the_operator_through_its_service() -> None:
    (hook,) = [o for o in objects() if is_hook(o)]
    assert hook["kind"] == "Pod"
    assert hook["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (check,) = hook["spec"]["containers"]
    assert check["image"] == container(objects())["image"]  # nothing else to pull
    service = "cfgpu-operator-metrics.cfgpu-system.svc"
    assert check["args"] == [
        "check",
        f"--health=http://{service}:8081/healthz",
        f"--metrics=http://{service}:8080/metrics",
    ]
    (svc,) = by_kind(objects(), "Service")
    assert {p["name"] for p in svc["spec"]["ports"]} == {"metrics", "health"}
    assert not [o for o in objects({"metrics": {"enabled": False}}) if is_hook(o)]


def _value_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    """Every value a user sets, as a dotted path; objects of Kubernetes fields count as one."""
    whole = {"resources", "podSecurityContext", "securityContext", "nodeSelector"}
    whole |= {"livenessProbe", "readinessProbe", "startupProbe", "grafanaDashboard.labels"}
    paths: list[str] = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and path not in whole:
            paths += _value_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def test_the_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    missing = [p for p in _value_paths(values) if f"`{p}`" not in readme]
    assert not missing, f"values not in the chart's README.md: {missing}"
