"""The emulated Primus-SaFE's behaviour: create (validation order and defaults of the
reference), patch, stop, delete, and the phase machine advanced by a clock."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cfgpu_operator.emulators.clock import Clock
from cfgpu_operator.emulators.safe.admission import (
    as_base64,
    authorize_create,
    check_capacity,
    check_kind,
    display_name,
    patch_changes,
    resources_of,
)
from cfgpu_operator.emulators.safe.model import (
    APPLICATION_KINDS,
    KINDS,
    NO_RETRY_KINDS,
    SafeError,
    User,
    Workload,
    Workspace,
    bad_request,
    internal,
)

ID_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# Kept as sent and shown by GET (secrets only to the owner or an admin, here to all).
EXTRA_FIELDS = (
    "service",
    "liveness",
    "readiness",
    "secrets",
    "isSupervised",
    "useWorkspaceStorage",
    "forceHostNetwork",
)
SPEC_FIELDS = ("resources", "images", "entryPoints", "env", "customerLabels", "service")


@dataclass
class SafeConfig:
    visibility_lag: float = 0.5  # seconds before GET/list see a new workload (the DB mirror)
    # With the platform's ingress gateway: services also get https://<host>/<cluster>/<ws>/<id>/.
    system_host: str | None = None
    schedule_seconds: float = 1.0
    dispatch_seconds: float = 1.0
    start_seconds: float = 2.0
    run_seconds: float | None = None  # a job succeeds after this long; None: until a hook says
    duplicate_create_stops_existing: bool = True  # the real server's hazard (§6)
    # Kinds whose resource template is installed (others: 500 Primus.00001); None: all.
    installed_kinds: frozenset[str] | None = None
    # Feature-switched kinds (MonarchJob, Sandbox) that are on; the rest answer 501.
    enabled_features: frozenset[str] = frozenset({"MonarchJob", "Sandbox"})


def _condition(kind: str, message: str, attempt: int, now: str) -> dict[str, Any]:
    return {
        "type": kind,
        "status": "True",
        "reason": f"run_{attempt}_times",
        "message": message,
        "lastTransitionTime": now,
    }


class SafeState:
    def __init__(self, clock: Clock, config: SafeConfig, seed: int = 0) -> None:
        self.clock, self.config = clock, config
        self.users: dict[str, User] = {}  # by API key / token
        self.workspaces: dict[str, Workspace] = {}
        self.nodes: list[dict[str, Any]] = []
        self.workloads: dict[str, Workload] = {}
        self._random = random.Random(seed)  # noqa: S311 - reproducible ids, not secrets

    # -- setup -----------------------------------------------------------------------------

    def add_user(
        self, key: str, name: str, *, admin: bool = False, workspaces: tuple[str, ...] = ()
    ) -> User:
        user = User(id=f"u-{name}", name=name, admin=admin, workspaces=set(workspaces))
        self.users[key] = user
        return user

    def add_workspace(self, workspace: Workspace) -> Workspace:
        self.workspaces[workspace.id] = workspace
        for n in range(workspace.node_count):
            self.nodes.append(
                {
                    "nodeId": f"{workspace.id}-node-{n}",
                    "workspace": workspace.id,
                    "internalIP": f"10.0.{len(self.nodes)}.{n + 1}",
                }
            )
        return workspace

    # -- create ------------------------------------------------------------------------------

    def create(self, user: User, body: Any, *, owner: User | None = None) -> Workload:
        """A create; a resume is one too, under the id in the body and for the first owner."""
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        workspace_id = str(body.get("workspaceId") or body.get("workspace") or "")
        kind = str((body.get("groupVersionKind") or {}).get("kind") or "PyTorchJob")
        authorize_create(user, workspace_id, body)
        workspace = self.workspaces.get(workspace_id)
        if workspace is None:
            raise bad_request("the cluster is empty")  # what an admin gets (§3.1)
        display = display_name(body, kind)
        resources = resources_of(body)
        check_kind(kind, workspace, self.config.installed_kinds, self.config.enabled_features)
        check_capacity(workspace, resources)
        workload_id = self._workload_id(body, display)
        self._check_duplicate(workload_id)
        workload = self._build(
            owner or user, body, workload_id, workspace, display, kind, resources
        )
        old = self.workloads.get(workload_id)
        if old is not None:
            # The DB row outlives the CR: a new run under the same id merges into it (the
            # old row shows until the mirror catches up), and a row marked deleted stays
            # deleted, hiding the new run from GET and list (§6).
            workload.shadow, workload.deleted = old, old.deleted
        self.workloads[workload_id] = workload
        return workload

    def resume(self, user: User, workload_id: str, body: Any) -> Workload:
        """POST /workloads/{id}/resume: the full create request again, under the same id."""
        row = self.visible(workload_id)
        if row is None:
            raise SafeError(404, "Primus.01001", f"Workload {workload_id} not found.")
        self._authorize_change(user, row, "resume")
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        return self.create(user, {**body, "workloadId": workload_id}, owner=row.user)

    def _workload_id(self, body: dict[str, Any], display: str) -> str:
        given = str(body.get("workloadId") or "").strip().lower().replace("_", "-")
        if given:
            return given
        suffix = "".join(self._random.choice(ID_ALPHABET) for _ in range(5))
        return f"{display[:57]}-{suffix}"

    def _check_duplicate(self, workload_id: str) -> None:
        existing = self.workloads.get(workload_id)
        if existing is None or not existing.cr_exists:
            return
        if self.config.duplicate_create_stops_existing:
            # The real server's cleanUpWorkloads deletes the CR by name: the running
            # workload is stopped by a create that failed (primus-safe-api.md §6).
            self._stop(existing, "the workload is stopped by a failed duplicate create")
        raise SafeError(409, "AlreadyExists", f'workloads.amd.com "{workload_id}" already exists')

    def _build(
        self,
        user: User,
        body: dict[str, Any],
        workload_id: str,
        workspace: Workspace,
        display: str,
        kind: str,
        resources: list[dict[str, Any]],
    ) -> Workload:
        now = self.clock.now()
        # An explicit timeout (0 too) is kept; only an absent one takes the workspace's
        # maximum runtime (§3.1). The same for ttlSecondsAfterFinished and its default.
        timeout = body.get("timeout")
        if timeout is None:
            timeout = workspace.max_runtime_seconds(KINDS[kind][0])
        ttl = body.get("ttlSecondsAfterFinished")
        max_retry = 0 if kind in NO_RETRY_KINDS else min(max(int(body.get("maxRetry") or 0), 0), 50)
        return Workload(
            id=workload_id,
            workspace_id=workspace.id,
            display_name=display,
            kind=kind,
            user=user,
            resources=resources,
            images=[str(i).strip() for i in body.get("images") or []],
            entry_points=[as_base64(str(e)) for e in body.get("entryPoints") or []],
            env={str(k).strip(): str(v) for k, v in (body.get("env") or {}).items()},
            description=str(body.get("description") or ""),
            priority=min(max(int(body.get("priority") or 0), 0), 2),
            timeout=int(timeout),
            max_retry=max_retry,
            ttl=60 if ttl is None else int(ttl),
            specified_nodes=list(body.get("specifiedNodes") or []),
            excluded_nodes=list(body.get("excludedNodes") or []),
            customer_labels=dict(body.get("customerLabels") or {}),
            dependencies=list(body.get("dependencies") or []),
            extra={k: body[k] for k in EXTRA_FIELDS if body.get(k) is not None},
            creation_time=now,
            visible_at=now + self.config.visibility_lag,
            stage_due=now + self.config.schedule_seconds,
            message="In queue - waiting for earlier or higher priority workloads",
        )

    # -- reads -------------------------------------------------------------------------------

    def visible(self, workload_id: str) -> Workload | None:
        """What the DB mirror shows: nothing (or the previous run) until it caught up."""
        self.settle()
        return self._row(self.workloads.get(workload_id))

    def _row(self, workload: Workload | None) -> Workload | None:
        if workload is not None and self.clock.now() < workload.visible_at:
            workload = workload.shadow
        if workload is None or workload.deleted:
            return None
        return workload

    def listing(self) -> list[Workload]:
        self.settle()
        rows = (self._row(w) for w in self.workloads.values())
        return [w for w in rows if w is not None and w.description != "OpsJob"]

    def queue_position(self, workload: Workload) -> int:
        if workload.phase != "Pending" or workload.dispatched or workload.conditions:
            return 0
        waiting = sorted(
            (
                w
                for w in self.workloads.values()
                if w.workspace_id == workload.workspace_id
                and w.phase == "Pending"
                and not w.conditions
            ),
            key=lambda w: (w.creation_time, w.id),
        )
        return waiting.index(workload) + 1

    def service(self, user: User, workload_id: str) -> dict[str, Any] | None:
        """GET /workloads/{id}/service: None (a null body) once the object is gone; the
        Service exists for the application kinds once dispatched."""
        self.settle()
        workload = self.workloads.get(workload_id)
        if workload is None or not workload.cr_exists:
            return None
        if not user.member(workload.workspace_id) and workload.user is not user:
            raise _forbidden(user, "get", "workload", workload.workspace_id)
        if workload.kind not in APPLICATION_KINDS or not workload.dispatched:
            raise SafeError(404, "NotFound", f'services "{workload_id}" not found')
        port = int((workload.extra.get("service") or {}).get("port") or 8080)
        ws, cluster = workload.workspace_id, "cluster-a"
        host = self.config.system_host
        return {
            "port": {"protocol": "TCP", "port": port, "targetPort": port},
            "externalDomain": f"https://{host}/{cluster}/{ws}/{workload_id}/" if host else "",
            "internalDomain": f"{workload_id}.{ws}.svc.cluster.local:{port}",
            "clusterIp": "10.96.0.10",
            "type": "ClusterIP",
        }

    # -- patch, stop, delete -----------------------------------------------------------------

    def patch(self, user: User, workload_id: str, body: Any) -> None:
        self.settle()
        workload = self.workloads.get(workload_id)
        if workload is None or not workload.cr_exists:
            raise internal("The workload can only be edited when it is running.")
        self._authorize_change(user, workload, "update")
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        self._authorize_patch(user, workload, body)
        # The webhook compares the old and new spec: sending a field unchanged is no change.
        changing = [f for f in SPEC_FIELDS if f in patch_changes(workload, body)]
        if changing and workload.dispatched and workload.kind not in APPLICATION_KINDS:
            raise SafeError(
                409,
                "Primus.00012",
                f"the workload {workload_id} has been "
                f"dispatched; {', '.join(changing)} can no longer be changed",
            )
        self._apply_patch(workload, body)

    def _authorize_patch(self, user: User, workload: Workload, body: dict[str, Any]) -> None:
        """A new priority 2, or a timeout changed to above the workspace's maximum runtime (or
        to none while there is one), needs the high-priority permission."""
        high = user.admin or workload.workspace_id in user.managed
        priority, timeout = body.get("priority"), body.get("timeout")
        if priority is not None and priority != workload.priority and priority == 2 and not high:
            raise _forbidden(user, "update", "workload/high-priority", workload.workspace_id)
        if timeout is None or timeout == workload.timeout or high:
            return
        workspace = self.workspaces.get(workload.workspace_id)
        limit = workspace.max_runtime_seconds(workload.scope) if workspace else 0
        if limit and (timeout > limit or timeout <= 0):
            raise _forbidden(user, "update", "workload/high-priority", workload.workspace_id)

    def _apply_patch(self, workload: Workload, body: dict[str, Any]) -> None:
        changes = patch_changes(workload, body)
        for key, attr in (
            ("resources", "resources"),
            ("images", "images"),
            ("entryPoints", "entry_points"),
            ("env", "env"),
            ("customerLabels", "customer_labels"),
        ):
            if key in changes:
                setattr(workload, attr, changes[key])
        if "service" in changes:
            workload.extra["service"] = changes["service"]
        for key, attr in (
            ("priority", "priority"),
            ("timeout", "timeout"),
            ("maxRetry", "max_retry"),
            ("description", "description"),
        ):
            if key in body and body[key] is not None:
                setattr(workload, attr, body[key])

    def stop(self, user: User, workload_id: str) -> None:
        """§3.5: an ended or unknown workload is a no-op (no permission asked); a live one
        needs the owner or an admin; without its CR the DB row alone is marked Stopped."""
        self.settle()
        workload = self.workloads.get(workload_id)
        if workload is None or workload.ended:
            return
        row = self._row(workload)
        if not workload.cr_exists and row is None:
            return
        self._authorize_change(user, workload, "delete")
        self._stop(workload, f"the workload is stopped by {user.name}")

    def delete(self, user: User, workload_id: str) -> None:
        """§3.6: stop the CR if there is one, then mark the DB row deleted, each behind the
        owner check; a row the mirror has not written yet cannot be marked."""
        self.settle()
        workload = self.workloads.get(workload_id)
        if workload is None:
            return
        if workload.cr_exists:
            self._authorize_change(user, workload, "delete")
            if not workload.ended:
                self._stop(workload, f"the workload is deleted by {user.name}")
            workload.cr_exists, workload.deletion_time = False, self.clock.now()
        if self._row(workload) is None:
            return
        self._authorize_change(user, workload, "delete")
        workload.deleted = True

    def _stop(self, workload: Workload, message: str) -> None:
        now = self.clock.now()
        workload.phase, workload.end_time = "Stopped", now
        workload.conditions.append(
            _condition("AdminStopped", message, workload.dispatch_count, _rfc3339(now))
        )
        workload.cr_exists, workload.deletion_time = False, now

    def _authorize_change(self, user: User, workload: Workload, verb: str) -> None:
        if user.admin or workload.user is user or workload.workspace_id in user.managed:
            return
        raise _forbidden(user, verb, "workload", workload.workspace_id)

    # -- test hooks ----------------------------------------------------------------------------

    def finish(self, workload_id: str, outcome: str) -> None:
        """Make a workload end as ``Succeeded`` or ``Failed`` at its next step."""
        workload = self.workloads[workload_id]
        workload.outcome = outcome
        workload.stage_due = min(workload.stage_due, self.clock.now())

    # -- the phase machine -----------------------------------------------------------------------

    def settle(self) -> None:
        now = self.clock.now()
        for workload in self.workloads.values():
            while workload.cr_exists and workload.stage_due <= now and self._advance(workload):
                pass
            self._expire(workload, now)

    def _advance(self, w: Workload) -> bool:
        """One step of §3.7; False when nothing is due."""
        at, config, names = w.stage_due, self.config, {c["type"] for c in w.conditions}
        stamp = _rfc3339(at)
        if w.ended:
            return False
        if w.phase == "Pending" and "AdminScheduled" not in names:
            w.conditions.append(_condition("AdminScheduled", "", w.dispatch_count + 1, stamp))
            w.message, w.stage_due = "", at + config.dispatch_seconds
        elif w.phase == "Pending" and "AdminDispatched" not in names:
            w.dispatch_count += 1
            w.conditions.append(_condition("AdminDispatched", "", w.dispatch_count, stamp))
            w.stage_due = at + config.start_seconds
        elif w.phase == "Pending":
            w.phase, w.start_time = "Running", at
            w.conditions.append(_condition("K8sRunning", "", w.dispatch_count, stamp))
            run = config.run_seconds
            w.stage_due = (
                at + run if run is not None and w.kind not in APPLICATION_KINDS else float("inf")
            )
        elif w.phase == "Running":
            self._end(w, w.outcome or "Succeeded", at)
        else:
            return False
        return True

    def _end(self, w: Workload, outcome: str, at: float) -> None:
        if outcome == "Failed" and w.dispatch_count <= w.max_retry:
            w.phase, w.outcome = "Pending", None
            w.conditions = [c for c in w.conditions if c["type"] not in ("AdminDispatched",)]
            w.conditions.append(
                _condition(
                    "AdminFailover", "the workload is re-scheduling", w.dispatch_count, _rfc3339(at)
                )
            )
            w.stage_due = at + self.config.dispatch_seconds
            return
        w.phase, w.end_time = outcome, at
        w.conditions.append(_condition(f"K8s{outcome}", "", w.dispatch_count, _rfc3339(at)))

    def _expire(self, w: Workload, now: float) -> None:
        if (
            w.phase == "Running"
            and w.timeout
            and w.start_time is not None
            and now - w.start_time >= w.timeout
        ):
            self._stop(w, "the workload has timed out")
        if w.cr_exists and w.ended and w.end_time is not None and now - w.end_time >= w.ttl:
            w.cr_exists, w.deletion_time = False, now


def _forbidden(user: User, verb: str, resource: str, workspace_id: str) -> SafeError:
    return SafeError(
        403,
        "Primus.00003",
        f"The user({user.id}) is not allowed to {verb} {resource}, workspace: [{workspace_id}]",
    )


def _rfc3339(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
