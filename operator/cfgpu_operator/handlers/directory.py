"""What a handler needs to know about other objects: which object manages which CFGPU
instance, which GpuInstances are Ready, under which id each SafeWorkload was submitted.

Kopf's indexes answered this, but a Kopf index makes a starting operator hold every object
until all are indexed, through one wake-all toggle per object: O(N²), ten minutes of CPU at
10,000 objects before a new one was served. Here one LIST per kind at startup (before Kopf
watches anything) fills the directory, and every handler run keeps its own entry current."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cfgpu_operator.reconcile.conditions import condition
from cfgpu_operator.reconcile.orphans import Known

Key = tuple[str, str]  # namespace, name


class Directory:
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}  # instance id -> "namespace/name" managing it
        self.gpu_ready: dict[Key, bool] = {}
        self.workload_ids: dict[Key, str] = {}  # submitted SafeWorkloads only
        self._claimed: dict[str, set[str]] = {}  # uid -> instance ids it claimed
        self._names: dict[str, str] = {}  # uid -> the instance name its status records
        self._adopting: dict[str, str] = {}  # uid -> spec.instanceId not yet recorded
        self._keys: dict[str, tuple[str, Key]] = {}  # uid -> its kind and key

    def claim(self, instance_id: str, uid: str, owner: str) -> None:
        """``owner`` (namespace/name) rents or adopts ``instance_id``: no other may."""
        self.owners[instance_id] = owner
        self._claimed.setdefault(uid, set()).add(instance_id)

    def saw_gpu_instance(
        self,
        uid: str,
        meta: Mapping[str, Any],
        status: Mapping[str, Any],
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        """A GpuInstance as stored (at startup) or as its handler left it."""
        key = (str(meta.get("namespace") or ""), str(meta.get("name")))
        self._keys[uid] = ("GpuInstance", key)
        if status.get("instanceName"):
            self._names[uid] = str(status["instanceName"])
        if (spec or {}).get("instanceId"):
            self._adopting[uid] = str((spec or {})["instanceId"])
        ready = condition(list(status.get("conditions") or []), "Ready") or {}
        self.gpu_ready[key] = ready.get("status") == "True"
        instance_id = status.get("instanceId")
        if instance_id:
            self.claim(str(instance_id), uid, f"{key[0]}/{key[1]}")

    def saw_workload(self, uid: str, meta: Mapping[str, Any], status: Mapping[str, Any]) -> None:
        """A SafeWorkload as stored (at startup) or as its handler left it."""
        key = (str(meta.get("namespace") or ""), str(meta.get("name")))
        self._keys[uid] = ("SafeWorkload", key)
        workload_id = status.get("workloadId")
        if workload_id and status.get("submittedAt"):
            self.workload_ids[key] = str(workload_id)

    def seed(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Every stored object of ``kind`` (GpuInstance or SafeWorkload), before any handler."""
        for item in items:
            meta, status = item.get("metadata") or {}, item.get("status") or {}
            if kind == "GpuInstance":
                self.saw_gpu_instance(str(meta.get("uid")), meta, status, item.get("spec"))
            else:
                self.saw_workload(str(meta.get("uid")), meta, status)

    def known(self) -> Known:
        """The instances GpuInstances record or ask to adopt: never orphans."""
        ids = frozenset(self.owners) | frozenset(self._adopting.values())
        return Known(ids=ids, names=frozenset(self._names.values()))

    def forget(self, uid: str) -> None:
        for instance_id in self._claimed.pop(uid, set()):
            self.owners.pop(instance_id, None)
        self._names.pop(uid, None)
        self._adopting.pop(uid, None)
        kind, key = self._keys.pop(uid, ("", ("", "")))
        if kind == "GpuInstance":
            self.gpu_ready.pop(key, None)
        elif kind == "SafeWorkload":
            self.workload_ids.pop(key, None)
