"""The pinned kubectl (tests/kubetools.py) works against the emulator unchanged."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import pytest

from cfgpu_operator.emulators.kubernetes.registry import ResourceType
from tests.conftest import ServedKube
from tests.helpers import eventually
from tests.integration.kubernetes.widgets import crd, widget
from tests.kubetools import KUBECTL_VERSION, kube_tools, run_tool, tool_env

KUBECTL = str(kube_tools().kubectl)
MERGE = "application/merge-patch+json"


async def kubectl(kube: ServedKube, *args: str, stdin: str | None = None) -> tuple[int, str]:
    return await run_tool(KUBECTL, *args, env=tool_env(kube.kubeconfig), stdin=stdin)


async def apply(kube: ServedKube, obj: dict[str, object]) -> str:
    code, out = await kubectl(kube, "apply", "-f", "-", stdin=json.dumps(obj))
    assert code == 0, out
    return out


async def test_the_pinned_kubectl_runs(kube: ServedKube) -> None:
    code, out = await kubectl(kube, "version", "-o", "json")
    assert code == 0, out
    versions = json.loads(out)
    assert versions["clientVersion"]["gitVersion"].startswith(KUBECTL_VERSION)
    # The emulator advertises a version within kubectl's supported skew (no warning).
    assert versions["serverVersion"]["minor"] == "35"
    assert "WARNING" not in out


async def test_apply_get_and_delete(kube: ServedKube, tmp_path: Path) -> None:
    assert "created" in await apply(kube, crd())
    assert "widget.example.com/w1 created" in await apply(kube, widget("w1", label="abc"))
    assert "configured" in await apply(kube, widget("w1", label="def"))
    code, out = await kubectl(kube, "get", "wd", "w1", "-o", "jsonpath={.spec.label}")
    assert (code, out) == (0, "def")
    code, out = await kubectl(kube, "get", "widgets")
    assert code == 0
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "SIZE", "PHASE"]
    assert row.split() == ["w1", "3"]
    code, out = await kubectl(kube, "delete", "wd", "w1")
    assert code == 0, out
    assert 'widget.example.com "w1" deleted' in out  # 1.35 adds "from default namespace"
    code, out = await kubectl(kube, "get", "wd", "w1")
    assert code != 0
    assert "NotFound" in out


def _widgets(kube: ServedKube) -> ResourceType:
    found = kube.emulator.cluster.registry.get("example.com", "v1", "widgets")
    assert found is not None
    return found


def _set_ready(kube: ServedKube, name: str) -> None:
    ready = {"type": "Ready", "status": "True", "reason": "Done", "message": "ready"}
    kube.emulator.cluster.patch(
        _widgets(kube), "default", name, MERGE, {"status": {"conditions": [ready]}}, "status"
    )


async def test_wait_sees_a_condition_that_holds_and_one_that_comes(kube: ServedKube) -> None:
    """kubectl 1.35 waits through the watch-list protocol: it needs the bookmark that ends
    the initial events, or it times out with the condition long met."""
    await apply(kube, crd())
    await apply(kube, widget("held"))
    _set_ready(kube, "held")
    code, out = await kubectl(kube, "wait", "--for=condition=Ready", "wd/held", "--timeout=20s")
    assert (code, "condition met" in out) == (0, True), out
    await apply(kube, widget("later"))
    waiting = asyncio.ensure_future(
        kubectl(kube, "wait", "--for=condition=Ready", "wd/later", "--timeout=30s")
    )
    await eventually(
        lambda: any(c.verb == "watch" for c in kube.emulator.calls(resource="widgets")),
        what="kubectl watching",
    )
    _set_ready(kube, "later")
    code, out = await waiting
    assert (code, "condition met" in out) == (0, True), out


async def test_delete_waits_for_the_finalizer_and_ends_when_it_goes(kube: ServedKube) -> None:
    await apply(kube, crd())
    held = widget("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await apply(kube, held)
    deleting = asyncio.ensure_future(kubectl(kube, "delete", "wd", "held", "--timeout=30s"))
    cluster = kube.emulator.cluster
    await eventually(
        lambda: (
            (cluster.store.get(_widgets(kube).key, "default", "held") or {})
            .get("metadata", {})
            .get("deletionTimestamp")
        ),
        what="marked for deletion",
    )
    assert not deleting.done()  # kubectl waits while the finalizer holds the object
    cluster.patch(_widgets(kube), "default", "held", MERGE, {"metadata": {"finalizers": None}})
    code, out = await asyncio.wait_for(deleting, 30)
    assert code == 0, out
    assert 'widget.example.com "held" deleted' in out


async def test_server_dry_run_and_diff_change_nothing(kube: ServedKube) -> None:
    """`apply --dry-run=server` and `diff` send their writes with dryRun=All: before, the
    emulator stored them (a diff re-created a deleted object and renting began)."""
    await apply(kube, crd())
    await apply(kube, widget("w1", label="abc"))
    store, key = kube.emulator.cluster.store, _widgets(kube).key
    rv = store.resource_version
    code, out = await kubectl(
        kube, "apply", "--dry-run=server", "-f", "-", stdin=json.dumps(widget("w2"))
    )
    assert code == 0, out
    assert "(server dry run)" in out
    code, out = await kubectl(kube, "diff", "-f", "-", stdin=json.dumps(widget("w1", label="abc")))
    assert (code, out) == (0, "")
    changed = json.dumps(widget("w1", label="def"))
    code, out = await kubectl(kube, "diff", "-f", "-", stdin=changed)
    assert code == 1, out  # 1: differences found
    assert re.search(r"^-\s+label: abc$", out, flags=re.M)
    assert re.search(r"^\+\s+label: def$", out, flags=re.M)
    code, out = await kubectl(kube, "diff", "-f", "-", stdin=json.dumps(widget("w3")))
    assert code == 1, out
    assert store.get(key, "default", "w2") is None
    assert store.get(key, "default", "w3") is None
    assert (store.get(key, "default", "w1") or {})["spec"]["label"] == "abc"
    assert store.resource_version == rv


def _event_about(kube: ServedKube, name: str, reason: str, message: str) -> None:
    """A core Event about widget ``name``, as Kopf posts them."""
    cluster = kube.emulator.cluster
    target = cluster.get(_widgets(kube), "default", name)["metadata"]
    events = cluster.registry.get("", "v1", "events")
    assert events is not None
    now = "2026-12-01T10:00:00Z"
    cluster.create(
        events,
        "default",
        {
            "metadata": {"generateName": f"{name}."},
            "involvedObject": {
                "apiVersion": "example.com/v1",
                "kind": "Widget",
                "name": name,
                "namespace": "default",
                "uid": target["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Normal",
            "source": {"component": "widget-operator"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        },
    )


async def test_describe_events_and_get_events_show_an_objects_events(kube: ServedKube) -> None:
    """describe and `kubectl events --for` find Events by involvedObject field selectors
    (before: 400 "field label not supported", and describe said Events: <none>)."""
    await apply(kube, crd())
    await apply(kube, widget("w1"))
    await apply(kube, widget("w2"))
    _event_about(kube, "w1", "Growing", "from 1 to 3")
    _event_about(kube, "w1", "Grown", "size 3")
    _event_about(kube, "w2", "Elsewhere", "not about w1")
    code, out = await kubectl(kube, "describe", "wd", "w1")
    assert code == 0, out
    events = out.split("Events:", 1)[1]
    assert "Growing" in events
    assert "Grown" in events
    assert "Elsewhere" not in events
    assert "<none>" not in events
    code, out = await kubectl(kube, "events", "--for", "wd/w1")
    assert code == 0, out
    assert "from 1 to 3" in out
    assert "size 3" in out
    assert "not about w1" not in out
    code, out = await kubectl(kube, "get", "events")
    assert code == 0, out
    header, *rows = out.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any(r.split()[1:4] == ["Normal", "Growing", "widget/w1"] for r in rows), out


async def test_create_namespace_secret_configmap_and_serviceaccount(kube: ServedKube) -> None:
    """kubectl's typed clients send these as protobuf (before: 400 "not valid JSON")."""
    cluster = kube.emulator.cluster
    for args in (
        ("namespace", "team"),
        ("secret", "generic", "creds", "-n", "team", "--from-literal=token=abc"),
        ("configmap", "settings", "-n", "team", "--from-literal=region=hz"),
        ("serviceaccount", "runner", "-n", "team"),
    ):
        code, out = await kubectl(kube, "create", *args)
        assert code == 0, out
        assert "created" in out
    code, out = await kubectl(kube, "get", "secret", "creds", "-n", "team", "-o", "json")
    assert code == 0, out
    secret = json.loads(out)
    assert (secret["type"], secret["data"]) == ("Opaque", {"token": "YWJj"})  # base64 of abc
    configmaps = cluster.registry.get("", "v1", "configmaps")
    assert configmaps is not None
    assert cluster.get(configmaps, "team", "settings")["data"] == {"region": "hz"}
    code, out = await kubectl(kube, "create", "namespace", "team")
    assert code != 0
    assert "AlreadyExists" in out or "already exists" in out


async def test_server_side_apply_creates_updates_and_reports_conflicts(kube: ServedKube) -> None:
    """Before: 404 for a new object, 415 for an existing one."""
    code, out = await kubectl(kube, "apply", "--server-side", "-f", "-", stdin=json.dumps(crd()))
    assert code == 0, out
    for label, verb in (("abc", "serverside-applied"), ("def", "serverside-applied")):
        body = json.dumps(widget("w1", label=label))
        code, out = await kubectl(kube, "apply", "--server-side", "-f", "-", stdin=body)
        assert code == 0, out
        assert verb in out
    code, out = await kubectl(kube, "get", "wd", "w1", "-o", "jsonpath={.spec.label}")
    assert (code, out) == (0, "def")
    theirs = json.dumps(widget("w1", label="xyz"))
    args = ("apply", "--server-side", "--field-manager=ci", "-f", "-")
    code, out = await kubectl(kube, *args, stdin=theirs)
    assert code != 0
    assert 'conflict with "kubectl"' in out
    assert ".spec.label" in out
    code, out = await kubectl(kube, *args, "--force-conflicts", stdin=theirs)
    assert code == 0, out
    code, out = await kubectl(kube, "get", "wd", "w1", "-o", "jsonpath={.spec.label}")
    assert (code, out) == (0, "xyz")


async def test_apply_of_an_invalid_object_shows_the_servers_reason(kube: ServedKube) -> None:
    await apply(kube, crd())
    code, out = await kubectl(kube, "apply", "-f", "-", stdin=json.dumps(widget("w2", size=99)))
    assert code != 0
    assert (
        "spec.size: Invalid value: 99: spec.size in body should be less than or equal to 8" in out
    )


async def test_apply_validates_fields_on_the_server_as_kubectl_asks(kube: ServedKube) -> None:
    """kubectl finds fieldValidation in the OpenAPI documents and sends it (no client-side
    schema needed): Strict by default refuses a typo, --validate=warn prints it and goes on."""
    await apply(kube, crd())
    typo = widget("w3", colour="blue")
    code, out = await kubectl(kube, "apply", "-f", "-", stdin=json.dumps(typo))
    assert code != 0
    assert 'strict decoding error: unknown field "spec.colour"' in out
    code, out = await kubectl(kube, "get", "wd", "w3")
    assert code != 0
    code, out = await kubectl(kube, "apply", "--validate=warn", "-f", "-", stdin=json.dumps(typo))
    assert code == 0, out
    assert 'Warning: unknown field "spec.colour"' in out
    secret: dict[str, object] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    assert "secret/s created" in await apply(kube, secret)  # built-ins too


async def test_get_watch_prints_changes(kube: ServedKube) -> None:
    await apply(kube, crd())
    await apply(kube, widget("w1"))
    process = await asyncio.create_subprocess_exec(
        KUBECTL,
        "get",
        "wd",
        "-w",
        "--request-timeout=30s",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(kube.kubeconfig), "HOME": str(kube.kubeconfig.parent)},
    )
    assert process.stdout is not None
    lines: list[str] = []

    async def read_line() -> str:
        assert process.stdout is not None
        return (await asyncio.wait_for(process.stdout.readline(), 30)).decode()

    try:
        lines.append(await read_line())  # header
        lines.append(await read_line())  # w1 as it is
        cluster = kube.emulator.cluster
        widgets = cluster.registry.get("example.com", "v1", "widgets")
        assert widgets is not None
        cluster.patch(
            widgets,
            "default",
            "w1",
            "application/merge-patch+json",
            {"status": {"phase": "Ready"}},
            subresource="status",
        )
        lines.append(await read_line())
    finally:
        process.terminate()
        await process.wait()
    assert lines[0].split() == ["NAME", "SIZE", "PHASE"]
    assert lines[2].split() == ["w1", "3", "Ready"]


def _undescribed_fields(explained: str) -> list[str]:
    """Field lines of `kubectl explain` output not followed by a description line."""
    lines = explained.split("FIELDS:", 1)[1].splitlines()
    missing = []
    for index, line in enumerate(lines):
        found = re.match(r"^  (\w+)\t<", line)
        if not found:
            continue
        rest = [
            next_line for next_line in lines[index + 1 :] if not next_line.startswith("  enum:")
        ]
        if not rest or not rest[0].startswith("    ") or not rest[0].strip():
            missing.append(found.group(1))
    return missing


@pytest.mark.parametrize(
    "path",
    [
        "gpuinstance.spec",
        "gpuinstance.spec.image",
        "gpuinstance.spec.billing",
        "gpuinstance.status",
        "safeworkload.spec",
        "safeworkload.spec.resources",
        "safeworkload.status",
    ],
)
async def test_kubectl_explain_describes_every_field(kube: ServedKube, path: str) -> None:
    from tests.integration.gpuinstance.conftest import install_crds

    install_crds(kube.emulator.cluster)
    code, out = await kubectl(kube, "explain", path)
    assert code == 0, out
    assert "FIELDS:" in out
    assert _undescribed_fields(out) == []


@pytest.mark.parametrize(
    ("path", "kind", "field"),
    [
        ("deployment.spec.replicas", "Deployment", "FIELD: replicas <integer>"),
        ("secret.type", "Secret", "FIELD: type <string>"),
        ("pod.spec.containers.image", "Pod", "FIELD: image <string>"),
    ],
)
async def test_kubectl_explain_describes_built_in_kinds(
    kube: ServedKube, path: str, kind: str, field: str
) -> None:
    """From Kubernetes' own schemas (kubernetes-validate), not an open stand-in."""
    code, out = await kubectl(kube, "explain", path)
    assert code == 0, out
    assert f"KIND:       {kind}" in out
    assert field in out
    assert out.split("DESCRIPTION:", 1)[1].strip()


async def test_kubectl_explain_shows_the_operator_default(kube: ServedKube) -> None:
    from tests.integration.gpuinstance.conftest import install_crds

    install_crds(kube.emulator.cluster)
    code, out = await kubectl(kube, "explain", "gpuinstance.spec.deletionPolicy")
    assert code == 0, out
    assert "CFGPU_OPERATOR_DEFAULT_DELETION_POLICY" in out
