"""The emulated cluster's semantics: create, read, update, patch and delete objects.

Everything HTTP-independent lives here, so tests can also drive and inspect the cluster
directly. Errors are raised as ``ApiStatus`` with the real server's codes and reasons.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from cfgpu_operator.emulators.clock import Clock, SystemClock
from cfgpu_operator.emulators.kubernetes import builtin_schemas, cel, schema, ssa, strategic
from cfgpu_operator.emulators.kubernetes.crds import crd_errors, established_status
from cfgpu_operator.emulators.kubernetes.meta import (
    SERVER_SET,
    check_identity,
    drop,
    generated_name,
    json_patch,
    merge_patch,
    name_errors,
    new_uid,
    timestamp,
)
from cfgpu_operator.emulators.kubernetes.registry import Registry, ResourceType, types_from_crd
from cfgpu_operator.emulators.kubernetes.status import (
    FieldError,
    already_exists,
    apply_conflict,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
    strict_decoding,
    undecodable,
    unsupported_media_type,
)
from cfgpu_operator.emulators.kubernetes.store import Obj, Store

NAMESPACES = ("", "namespaces")
SECRETS = ("", "secrets")
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
# A generated name already taken is drawn again, up to 8 draws in all (KEP-4420, RetryGenerateName:
# beta and on by default in 1.31, GA in 1.32); only then does a create conflict.
NAME_ATTEMPTS = 8


class Cluster:
    """Objects of every registered resource type, with the API server's rules."""

    def __init__(
        self, *, clock: Clock | None = None, history_size: int = 5000, seed: int | None = None
    ) -> None:
        self.clock = clock or SystemClock()
        self.registry = Registry()
        self.store = Store(history_size)
        self.warnings: list[str] = []  # Warning headers for the current request
        self.field_validation = "Warn"  # the current request's, as a server defaults it
        # dryRun=All: every check runs, nothing is stored, no watch event, no side effect.
        self.dry_run = False
        self._rng = random.Random(seed)  # noqa: S311 - generateName suffixes, not secrets
        namespaces = self.registry.get("", "v1", "namespaces")
        assert namespaces is not None  # noqa: S101 - a built-in
        for name in INITIAL_NAMESPACES:
            self.create(namespaces, None, {"metadata": {"name": name}})

    def begin(self, field_validation: str = "Warn", dry_run: bool = False) -> None:
        """A new request: no warnings yet, how unknown fields are to be treated, and
        whether it is a dry run. ``end()`` when it is answered: direct calls (tests) are
        never dry runs."""
        self.warnings, self.field_validation, self.dry_run = [], field_validation, dry_run

    def end(self) -> None:
        self.begin()

    def kind_of(self, key: tuple[str, str]) -> ResourceType:
        kind = self.find_kind(key)
        if kind is None:
            raise KeyError(key)
        return kind

    def find_kind(self, key: tuple[str, str]) -> ResourceType | None:
        """The registered kind of a storage key; None once its CRD is gone."""
        return next((k for k in self.registry if k.key == key), None)

    # -- reads ------------------------------------------------------------------------------

    def get(self, kind: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(kind.key, namespace or "", name)
        if obj is None:
            raise not_found(kind, name)
        return self._out(kind, obj)

    def list_objects(self, kind: ResourceType, namespace: str | None) -> list[Obj]:
        return [self._out(kind, obj) for obj in self.store.items(kind.key, namespace)]

    def _out(self, kind: ResourceType, obj: Obj) -> Obj:
        out = copy.deepcopy(obj)
        out["apiVersion"] = kind.api_version  # one storage, several served versions
        return out

    # -- create -----------------------------------------------------------------------------

    def create(
        self,
        kind: ResourceType,
        namespace: str | None,
        body: Any,
        managed: list[Obj] | None = None,
    ) -> Obj:
        obj = check_identity(kind, body)
        meta = obj["metadata"]
        for key in SERVER_SET:
            meta.pop(key, None)
        if managed:
            meta["managedFields"] = managed
        self._place(kind, namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = self._free_name(kind, meta)
        name = meta.get("name") or ""
        errors = (
            name_errors(kind, name)
            if name
            else [
                FieldError("Required", "metadata.name", detail="name or generateName is required")
            ]
        )
        if kind.status_subresource and kind.custom:
            obj.pop("status", None)
        errors += self._content_errors(kind, obj, None)
        if errors:
            raise invalid(kind, name, errors)
        if self.store.get(kind.key, meta.get("namespace", ""), name) is not None:
            raise already_exists(kind, name)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = timestamp(self.clock.now())
        if kind.custom or kind.key == CRDS:
            meta["generation"] = 1
        self._on_create(kind, obj)
        return self._out(kind, self._put(kind, obj, "ADDED"))

    def _free_name(self, kind: ResourceType, meta: Obj) -> str:
        """A generated name not taken yet; after ``NAME_ATTEMPTS`` taken ones, the last (and
        the create then conflicts), as the API server since KEP-4420 (Kubernetes 1.31)."""
        for _ in range(NAME_ATTEMPTS):
            name = generated_name(meta["generateName"], self._rng)
            if self.store.get(kind.key, meta.get("namespace", ""), name) is None:
                break
        return name

    def _place(self, kind: ResourceType, namespace: str | None, meta: Obj) -> None:
        if not kind.namespaced:
            meta.pop("namespace", None)
            return
        if namespace is None:
            raise bad_request("the namespace of the object must be given in the request path")
        if meta.get("namespace") not in (None, "", namespace):
            raise bad_request(
                "the namespace of the provided object does not match the "
                "namespace sent on the request"
            )
        meta["namespace"] = namespace
        ns = self.store.get(NAMESPACES, "", namespace)
        ns_kind = self.kind_of(NAMESPACES)
        if ns is None:
            raise not_found(ns_kind, namespace)
        if ns["metadata"].get("deletionTimestamp"):
            why = (
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated"
            )
            raise forbidden(kind, meta.get("name", ""), why)

    def _content_errors(self, kind: ResourceType, obj: Obj, old: Obj | None) -> list[FieldError]:
        """Prune, default and validate a custom resource (or check a CRD)."""
        if kind.key == CRDS:
            return crd_errors(obj)
        if not kind.custom:
            return self._builtin_errors(kind, obj)
        if not kind.schema:
            return []
        pruned = [f'unknown field "{path}"' for path in schema.prune(kind.schema, obj, root=True)]
        if pruned and self.field_validation == "Strict":
            raise strict_decoding(kind, pruned)
        if self.field_validation == "Warn":
            self.warnings += pruned
        schema.default(kind.schema, obj)
        errors = schema.validate(kind.schema, {k: v for k, v in obj.items() if k != "metadata"})
        return errors + cel.evaluate(kind.schema, _body(obj), None if old is None else _body(old))

    def _put(self, kind: ResourceType, obj: Obj, event_type: str) -> Obj:
        """Store ``obj``; a dry run answers with it as it would be stored (a new object has
        no resourceVersion then, as on a real server)."""
        return obj if self.dry_run else self.store.put(kind.key, obj, event_type)

    def _builtin_errors(self, kind: ResourceType, obj: Obj) -> list[FieldError]:
        """A built-in checked against Kubernetes' schema of it: unknown fields as the
        request's fieldValidation says, type errors as the decoder's 400, the rest 422."""
        problems = builtin_schemas.check(kind, obj)
        unknown = [f'unknown field "{path}"' for path in problems.unknown]
        if unknown and self.field_validation == "Strict":
            raise strict_decoding(kind, unknown)
        if self.field_validation == "Warn":
            self.warnings += unknown
        for path in problems.unknown:
            drop(obj, path)
        types = [e for e in problems.errors if "is not of type" in e.detail]
        if types:
            raise undecodable(kind, types[0])
        return problems.errors

    def _on_create(self, kind: ResourceType, obj: Obj) -> None:
        if kind.key == CRDS:
            obj["status"] = established_status(obj, timestamp(self.clock.now()))
            for served in types_from_crd(obj) if not self.dry_run else ():
                self.registry.add(served)
        elif kind.key == NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
        elif kind.key == SECRETS:
            obj["type"] = obj.get("type") or "Opaque"  # the server's default

    # -- update and patch -------------------------------------------------------------------

    def replace(
        self,
        kind: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        subresource: str | None = None,
    ) -> Obj:
        new = check_identity(kind, body)
        current = self._current(kind, namespace, name)
        wanted = new["metadata"].get("resourceVersion")
        if not wanted and kind.custom:
            raise invalid(
                kind,
                name,
                [
                    FieldError(
                        "Invalid", "metadata.resourceVersion", 0, "must be specified for an update"
                    )
                ],
            )
        return self._update(kind, current, new, subresource, wanted)

    def patch(
        self,
        kind: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        subresource: str | None = None,
    ) -> Obj:
        current = self._current(kind, namespace, name)
        base = self._out(kind, current)
        media = content_type.split(";")[0].strip()
        if media == MERGE or (media == STRATEGIC and not kind.custom):
            if not isinstance(patch, dict):
                raise bad_request("a merge patch must be a JSON object")
            known = builtin_schemas.root(kind) if media == STRATEGIC else None
            # Without Kubernetes' schema (no schemas extra) lists are replaced whole.
            patched = strategic.patch(base, patch, known) if known else merge_patch(base, patch)
        elif media == JSON_PATCH:
            patched = json_patch(kind, name, base, patch)
        else:
            raise unsupported_media_type(media)
        wanted = (patched.get("metadata") or {}).get("resourceVersion")
        wanted = wanted if wanted != current["metadata"]["resourceVersion"] else None
        return self._update(kind, current, check_identity(kind, patched), subresource, wanted)

    def apply(
        self,
        kind: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        manager: str,
        force: bool = False,
    ) -> tuple[Obj, bool]:
        """Server-side apply of ``body`` by ``manager``: creates the object, or merges into
        it what the manager sets; returns the object and whether it was created."""
        applied = check_identity(kind, body)
        if applied["metadata"].get("name", name) != name:
            raise bad_request(
                f"the name of the object ({applied['metadata'].get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        fields = ssa.leaves(applied, kind.schema)
        if kind.status_subresource:  # the main resource ignores status
            fields = {f for f in fields if f[:1] != ("f:status",)}
        now = timestamp(self.clock.now())
        current = self.store.get(kind.key, namespace or "", name)
        if current is None:
            applied["metadata"]["name"] = name
            mine = ssa.entry(manager, kind.api_version, fields, now)
            return self.create(kind, namespace, applied, [mine]), True
        entries = current["metadata"].get("managedFields") or []
        others = [
            e for e in entries if (e.get("manager"), e.get("operation")) != (manager, "Apply")
        ]
        found = ssa.conflicts(current, applied, fields, others)
        if found and not force:
            raise apply_conflict(found)
        others = ssa.give_up(others, {path for _, path in found})
        before = next((e for e in entries if e not in others and e.get("manager") == manager), None)
        new = ssa.merge(current, applied, kind.schema)
        still_owned = set().union(*(ssa.owned(e) for e in others)) if others else set()
        for path in (ssa.owned(before) if before else set()) - fields - still_owned:
            ssa.remove(new, path)
        mine = ssa.entry(manager, kind.api_version, fields, now)
        if before is not None and before.get("fieldsV1") == mine["fieldsV1"]:
            mine["time"] = before.get("time", now)  # nothing changed hands: same entry
        return self._update(kind, current, new, None, None, [*others, mine]), False

    def _current(self, kind: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(kind.key, namespace or "", name)
        if obj is None:
            raise not_found(kind, name)
        return obj

    def _update(
        self,
        kind: ResourceType,
        current: Obj,
        new: Obj,
        subresource: str | None,
        wanted_rv: str | None,
        managed: list[Obj] | None = None,
    ) -> Obj:
        meta, old_meta = new["metadata"], current["metadata"]
        name = old_meta["name"]
        if wanted_rv and wanted_rv != old_meta["resourceVersion"]:
            raise conflict(kind, name)
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the "
                f"name on the URL ({name})"
            )
        new = self._merge_for(kind, current, new, subresource)
        if managed is not None:
            new["metadata"]["managedFields"] = managed
        errors = self._finalizer_errors(current, new) + self._content_errors(kind, new, current)
        if errors:
            raise invalid(kind, name, errors)
        if new == current:
            return self._out(kind, current)  # a no-op write changes nothing, not even the rv
        if kind.custom and _spec_part(kind, new) != _spec_part(kind, current):
            new["metadata"]["generation"] = old_meta.get("generation", 1) + 1
        if old_meta.get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            return self._out(kind, self._remove(kind, new))
        if kind.key == CRDS and not self.dry_run:
            self._reregister(current, new)
        return self._out(kind, self._put(kind, new, "MODIFIED"))

    def _reregister(self, old: Obj, new: Obj) -> None:
        """An updated CRD serves its new versions and schemas at once."""
        self.registry.remove_resource(old["spec"]["group"], old["spec"]["names"]["plural"])
        for served in types_from_crd(new):
            self.registry.add(served)

    def _merge_for(
        self, kind: ResourceType, current: Obj, new: Obj, subresource: str | None
    ) -> Obj:
        """What an update may change: status only via /status, the rest only via the main
        resource; server-set metadata never."""
        if subresource == "status":
            merged = copy.deepcopy(current)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            return merged
        merged = copy.deepcopy(new)
        if kind.status_subresource:
            if "status" in current:
                merged["status"] = copy.deepcopy(current["status"])
            else:
                merged.pop("status", None)
        meta = merged["metadata"]
        for key in (*SERVER_SET, "name", "namespace"):
            if key in current["metadata"]:
                meta[key] = copy.deepcopy(current["metadata"][key])
            else:
                meta.pop(key, None)
        return merged

    @staticmethod
    def _finalizer_errors(current: Obj, new: Obj) -> list[FieldError]:
        if not current["metadata"].get("deletionTimestamp"):
            return []
        before = set(current["metadata"].get("finalizers") or [])
        added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
        if not added:
            return []
        listed = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
        detail = (
            f"no new finalizers can be added if the object is being deleted, found new "
            f"finalizers {listed}"
        )
        return [FieldError("Forbidden", "metadata.finalizers", detail=detail)]

    # -- delete -----------------------------------------------------------------------------

    def delete(
        self, kind: ResourceType, namespace: str | None, name: str, options: Obj | None = None
    ) -> Obj:
        current = self._current(kind, namespace, name)
        preconditions = (options or {}).get("preconditions") or {}
        for key in ("uid", "resourceVersion"):
            if preconditions.get(key) and preconditions[key] != current["metadata"].get(key):
                raise conflict(kind, name)
        meta = current["metadata"]
        if meta.get("finalizers") or (kind.key == NAMESPACES and self._has_content(name)):
            if meta.get("deletionTimestamp"):
                return self._out(kind, current)
            held = copy.deepcopy(current)
            held["metadata"]["deletionTimestamp"] = timestamp(self.clock.now())
            held["metadata"]["deletionGracePeriodSeconds"] = 0
            if kind.key == NAMESPACES:
                held["status"] = {"phase": "Terminating"}
            out = self._put(kind, held, "MODIFIED")
            if kind.key == NAMESPACES and not self.dry_run:
                self._empty_namespace(name)
            return self._out(kind, out)
        orphan = (options or {}).get("propagationPolicy") == "Orphan"
        return self._out(kind, self._remove(kind, current, orphan=orphan))

    def _remove(self, kind: ResourceType, obj: Obj, orphan: bool = False) -> Obj:
        if self.dry_run:
            return obj
        gone = self.store.remove(kind.key, obj)
        meta = gone["metadata"]
        if kind.key == CRDS:
            self._drop_crd(gone)
        if not orphan:
            self._collect_garbage(meta["uid"])
        namespace = meta.get("namespace")
        if namespace:
            self._finish_namespace(namespace)
        return gone

    def _drop_crd(self, crd: Obj) -> None:
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        self.registry.remove_resource(group, plural)
        bucket = self.store.drop((group, plural))
        for watcher in list(bucket.watchers if bucket else []):
            watcher.close()

    def _collect_garbage(self, owner_uid: str) -> None:
        for key, namespace, name in self.store.dependents(owner_uid):
            kind = self.find_kind(key)
            obj = self.store.get(key, namespace, name) if kind is not None else None
            if kind is None or obj is None:
                continue
            owners = obj["metadata"].get("ownerReferences") or []
            if obj["metadata"].get("deletionTimestamp") is None and any(
                ref.get("uid") == owner_uid for ref in owners
            ):
                self.delete(kind, namespace or None, name)

    def _has_content(self, namespace: str) -> bool:
        return any(
            obj["metadata"].get("namespace") == namespace
            for _, bucket in self.store.all_buckets()
            for obj in bucket.objects.values()
        )

    def _empty_namespace(self, namespace: str) -> None:
        for key, bucket in self.store.all_buckets():
            kind = self.kind_of(key)
            for obj in [
                o for o in bucket.objects.values() if o["metadata"].get("namespace") == namespace
            ]:
                self.delete(kind, namespace, obj["metadata"]["name"])

    def _finish_namespace(self, namespace: str) -> None:
        ns = self.store.get(NAMESPACES, "", namespace)
        if ns and ns["metadata"].get("deletionTimestamp") and not self._has_content(namespace):
            self.store.remove(NAMESPACES, ns)


def _body(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}


def _spec_part(kind: ResourceType, obj: Obj) -> Obj:
    """What bumps metadata.generation: all but metadata, and status when it is separate."""
    skip = {"metadata", "status"} if kind.status_subresource else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip}
