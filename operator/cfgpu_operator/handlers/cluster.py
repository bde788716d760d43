"""This cluster's id, which the names of its instances carry: the setting, else made once
and kept in a ConfigMap beside the leader Lease, so that every replica and every restart
uses the same one. The ConfigMap is also the object the operator's own Warning Events
(orphaned instances) are posted on."""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("cfgpu_operator.cluster")

CONFIGMAP = "cfgpu-operator-cluster"
KEY = "clusterId"
ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class Cluster:
    id: str
    ref: dict[str, Any]  # the ConfigMap, as Events name their object


class ClusterIdError(Exception):
    """The ConfigMap could not be read or created; the message says what to do."""


def new_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(6))


def resolve(core: Any, namespace: str, configured: str | None) -> Cluster:
    """``core``: a kubernetes CoreV1Api. Reads the ConfigMap, creating it when absent (two
    replicas racing: the second reads what the first made)."""
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError as Unreachable

    try:
        found = read(core, namespace) or _create(core, namespace, configured or new_id())
    except ApiException as exc:
        raise ClusterIdError(
            f"cannot read or create the ConfigMap {namespace}/{CONFIGMAP} that keeps this "
            f"cluster's id (HTTP {exc.status} {exc.reason}); grant get and create on "
            "configmaps in that namespace, or set CFGPU_OPERATOR_CLUSTER_ID"
        ) from None
    except (Unreachable, OSError) as exc:
        raise ClusterIdError(
            f"cannot reach the Kubernetes API server ({type(exc).__name__}); check KUBECONFIG "
            "and that the API server answers"
        ) from None
    stored = stored_id(found)
    cluster_id = configured or stored
    if not cluster_id:
        raise ClusterIdError(
            f"the ConfigMap {namespace}/{CONFIGMAP} holds no {KEY}; add one (4 to 12 "
            "lowercase letters and digits) or set CFGPU_OPERATOR_CLUSTER_ID"
        )
    if configured and stored and stored != configured:
        log.info("cluster id %s from the settings, not %s from the ConfigMap", configured, stored)
    ref = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "namespace": namespace, "uid": found.metadata.uid},
    }
    return Cluster(str(cluster_id), ref)


def read(core: Any, namespace: str) -> Any | None:
    """The ConfigMap (a V1ConfigMap), or None when there is none."""
    from kubernetes.client.exceptions import ApiException

    try:
        return core.read_namespaced_config_map(CONFIGMAP, namespace)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def stored_id(found: Any) -> str | None:
    stored = (found.data or {}).get(KEY)
    return str(stored) if stored else None


def _create(core: Any, namespace: str, cluster_id: str) -> Any:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name=CONFIGMAP, labels={"app.kubernetes.io/managed-by": "cfgpu-operator"}
        ),
        data={KEY: cluster_id},
    )
    try:
        made = core.create_namespaced_config_map(namespace, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        return core.read_namespaced_config_map(CONFIGMAP, namespace)
    log.info("this cluster's id is %s (kept in ConfigMap %s/%s)", cluster_id, namespace, CONFIGMAP)
    return made
