"""The edge between Primus-SaFE's wire types and the SafeWorkload decision, both ways: what a
listing row or a GET says as decision types, and a spec as a create request.

Every spec field is either mapped into the create request here or listed as one the operator
itself uses (a test fails when a new field is neither).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cfgpu_operator.clients.safe_wire import (
    CreateWorkloadRequest,
    WorkloadDetail,
    WorkloadItem,
)
from cfgpu_operator.models.safeworkload import SafeWorkloadSpec
from cfgpu_operator.reconcile.safeworkload import ENV_TAG, display_name
from cfgpu_operator.reconcile.safeworkload_view import Platform, Workload
from cfgpu_operator.reconcile.status import rfc3339_of

# Spec fields (camelCase) the create request carries...
SENT_ON_CREATE = frozenset(
    {
        "workspaceId",
        "kind",
        "displayName",
        "description",
        "resources",
        "images",
        "entryPoints",
        "env",
        "secretEnv",
        "priority",
        "timeout",
        "maxRetry",
        "ttlSecondsAfterFinished",
        "specifiedNodes",
        "excludedNodes",
        "nodesAffinity",
        "customerLabels",
        "isTolerateAll",
        "service",
        "liveness",
        "readiness",
        "dependsOn",
        "imagePullSecrets",
        "isSupervised",
        "useWorkspaceStorage",
        "forceHostNetwork",
    }
)
# ...and those the operator uses itself.
OPERATOR_ONLY = frozenset(
    {"gpuInstanceRefs", "onComplete", "suspend", "deletionPolicy", "credentialsSecretRef"}
)
MAX_CONDITIONS = 20
# Listing facts that change with a step of the workload (and so with its conditions); the
# duration, which changes every second, is not one (and is stored only once it is final).
STEP_FACTS = ("queuePosition", "message", "dispatchCount", "startTime", "endTime")


def create_request(
    spec: SafeWorkloadSpec,
    *,
    name: str,
    workload_id: str,
    uid: str,
    secret_env: Mapping[str, str],
    dependencies: list[str],
) -> CreateWorkloadRequest:
    env = {**spec.env, **secret_env, ENV_TAG: uid}
    return CreateWorkloadRequest.model_validate(
        {
            "display_name": spec.display_name or display_name(name, spec.kind),
            "workspace_id": spec.workspace_id,
            "group_version_kind": {"kind": spec.kind},
            "resources": [r.wire() for r in spec.resources],
            "images": list(spec.images),
            "entry_points": [base64.b64encode(e.encode()).decode() for e in spec.entry_points],
            "workload_id": workload_id,
            "description": spec.description,
            "env": env,
            "priority": spec.priority,
            "timeout": spec.timeout,
            "max_retry": spec.max_retry,
            "ttl_seconds_after_finished": spec.ttl_seconds_after_finished,
            "specified_nodes": spec.specified_nodes or None,
            "excluded_nodes": spec.excluded_nodes or None,
            # Only meaningful with specifiedNodes (the server omits it otherwise).
            "nodes_affinity": spec.nodes_affinity if spec.specified_nodes else None,
            "customer_labels": spec.customer_labels or None,
            "is_tolerate_all": spec.is_tolerate_all,
            "dependencies": dependencies or None,
            "service": spec.service,
            "liveness": spec.liveness,
            "readiness": spec.readiness,
            "secrets": [{"id": s, "type": "image"} for s in spec.image_pull_secrets] or None,
            "is_supervised": spec.is_supervised,
            "use_workspace_storage": spec.use_workspace_storage,
            "force_host_network": spec.force_host_network,
        }
    )


def workload(item: WorkloadItem) -> Workload:
    facts = {
        "queuePosition": item.queue_position,
        "message": item.message or None,
        "dispatchCount": item.dispatch_count,
        "startTime": rfc3339_of(item.start_time),
        "endTime": rfc3339_of(item.end_time),
        # A running workload's duration changes every second: storing it would be a status
        # write per object per poll (5 a minute each at 100 objects, measured). startTime
        # says how long it has run.
        "duration": item.duration if item.ended else None,
    }
    return Workload(item.workload_id, item.phase, item.dispatch_count, facts)


def platform(detail: WorkloadDetail) -> Platform:
    mutable = {
        "priority": detail.priority,
        "timeout": detail.timeout or 0,
        "maxRetry": detail.max_retry,
        "description": detail.description,
        "images": detail.images,
        "env": {k: v for k, v in detail.env.items() if k != ENV_TAG},
    }
    return Platform(mutable, detail.dispatch_count > 0, details(detail))


def details(detail: WorkloadDetail) -> dict[str, Any]:
    """Status fields only a GET shows: platform conditions, pods and nodes."""
    conditions = [
        {
            "type": c.type,
            "status": c.status,
            "reason": c.reason,
            "message": c.message,
            "lastTransitionTime": c.last_transition_time,
        }
        for c in detail.conditions
    ][-MAX_CONDITIONS:]
    running = sum(1 for pod in detail.pods if pod.phase == "Running")
    return {
        "platformConditions": conditions,
        "nodes": detail.nodes[-1] if detail.nodes else [],
        "pods": {"total": len(detail.pods), "running": running},
    }
