"""What a handler needs to know about other objects: which object manages which CFGPU
instance, which GpuInstances are Ready, under which id each SafeWorkload was submitted, and
which GpuInstances an active SafeWorkload references (for spec.lifecycle.idleStopAfter).

Kopf's indexes answered this, but a Kopf index makes a starting operator hold every object
until all are indexed, through one wake-all toggle per object: O(N²), ten minutes of CPU at
10,000 objects before a new one was served. Here one LIST per kind at startup (before Kopf
watches anything) fills the directory, and every handler run keeps its own entry current."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cfgpu_operator.reconcile.conditions import condition
from cfgpu_operator.reconcile.orphans import Known

Key = tuple[str, str]  # namespace, name
FINISHED = frozenset({"Succeeded", "Failed", "Stopped", "Lost"})


class Directory:
    def __init__(self) -> None:
        self.owners: dict[str, str] = {}  # instance id -> "namespace/name" managing it
        self.gpu_ready: dict[Key, bool] = {}
        self.workload_ids: dict[Key, str] = {}  # submitted SafeWorkloads only
        self._claimed: dict[str, set[str]] = {}  # uid -> instance ids it claimed
        self._names: dict[str, str] = {}  # uid -> the instance name its status records
        self._adopting: dict[str, str] = {}  # uid -> spec.instanceId not yet recorded
        self._keys: dict[str, tuple[str, Key]] = {}  # uid -> its kind and key
        self._uses: dict[str, tuple[Key, ...]] = {}  # active SafeWorkload uid -> its refs
        self._used: Counter[Key] = Counter()  # GpuInstance -> active SafeWorkloads using it

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

    def saw_workload(
        self,
        uid: str,
        meta: Mapping[str, Any],
        status: Mapping[str, Any],
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        """A SafeWorkload as stored (at startup) or as its handler left it."""
        key = (str(meta.get("namespace") or ""), str(meta.get("name")))
        self._keys[uid] = ("SafeWorkload", key)
        workload_id = status.get("workloadId")
        submitted = bool(workload_id and status.get("submittedAt"))
        if submitted:
            self.workload_ids[key] = str(workload_id)
        active = submitted and status.get("phase") not in FINISHED and not status.get("suspended")
        refs = ((spec or {}).get("gpuInstanceRefs") or []) if active else []
        self._use(uid, tuple((key[0], str(name)) for name in refs))

    def _use(self, uid: str, refs: tuple[Key, ...]) -> None:
        self._used.subtract(self._uses.pop(uid, ()))
        if refs:
            self._uses[uid] = refs
            self._used.update(refs)

    def in_use(self, key: Key) -> bool:
        """Whether an active SafeWorkload references the GpuInstance ``key``."""
        return self._used[key] > 0

    def seed(self, kind: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Every stored object of ``kind`` (GpuInstance or SafeWorkload), before any handler."""
        for item in items:
            meta, status = item.get("metadata") or {}, item.get("status") or {}
            if kind == "GpuInstance":
                self.saw_gpu_instance(str(meta.get("uid")), meta, status, item.get("spec"))
            else:
                self.saw_workload(str(meta.get("uid")), meta, status, item.get("spec"))

    def known(self) -> Known:
        """The instances GpuInstances record or ask to adopt: never orphans."""
        ids = frozenset(self.owners) | frozenset(self._adopting.values())
        return Known(ids=ids, names=frozenset(self._names.values()))

    def forget(self, uid: str) -> None:
        for instance_id in self._claimed.pop(uid, set()):
            self.owners.pop(instance_id, None)
        self._names.pop(uid, None)
        self._adopting.pop(uid, None)
        self._use(uid, ())
        kind, key = self._keys.pop(uid, ("", ("", "")))
        if kind == "GpuInstance":
            self.gpu_ready.pop(key, None)
        elif kind == "SafeWorkload":
            self.workload_ids.pop(key, None)
