"""Deleting a GpuInstance: release what it rented (or leave it, per policy), from status alone.

Kopf keeps the finalizer while this raises TemporaryError, so the object stays until the
instance is RELEASED or gone. A missing Secret falls back to the operator's token (when that
token cannot see the instance, deletion waits and says so: restore the Secret or choose
Orphan), and a prepaid instance that cannot be released yet is stopped and left to expire.
"""

from __future__ import annotations

from typing import Any

import kopf

from cfgpu_operator.clients.cfgpu_poller import Snapshot
from cfgpu_operator.errors import ApiError, NotFound, PrepaidNotExpired, WrongState
from cfgpu_operator.handlers.gpuinstance_sync import now_rfc3339
from cfgpu_operator.handlers.runtime import Account, CredentialsError, ObjectState, Runtime
from cfgpu_operator.reconcile import status as status_fields
from cfgpu_operator.reconcile.adoption import match_by_name
from cfgpu_operator.reconcile.conditions import Cond, set_condition
from cfgpu_operator.reconcile.deletion import DeleteStep, plan_delete
from cfgpu_operator.reconcile.gpuinstance import Seen, phase_of
from cfgpu_operator.reconcile.verdicts import backoff_delay


async def delete(
    rt: Runtime, body: kopf.Body, patch: kopf.Patch, retry: int, state: ObjectState
) -> None:
    spec, status, meta = body.get("spec", {}), state.view(body), body["metadata"]
    policy = spec.get("deletionPolicy") or rt.settings.CFGPU_OPERATOR_DEFAULT_DELETION_POLICY
    instance_id, intent = status.get("instanceId"), status.get("instanceName")
    if policy == "Orphan" or (instance_id is None and intent is None):
        kopf.info(
            body, reason="Deleted", message=plan_delete(policy, instance_id, intent, None).message
        )
        return
    token, fallback = await _token(rt, body, meta, spec)
    account = rt.account(token)
    try:
        done = await _step(
            account,
            body,
            patch,
            status,
            policy,
            fallback,
            rt.settings.CFGPU_OPERATOR_POLL_SLOW,
            state,
        )
    except ApiError as exc:
        raise kopf.TemporaryError(f"deleting: {exc}", delay=_delay(rt, exc, retry)) from None
    if not done:
        raise kopf.TemporaryError(
            "waiting for the instance to be released", delay=rt.settings.CFGPU_OPERATOR_POLL_FAST
        )


async def _token(rt: Runtime, body: kopf.Body, meta: Any, spec: Any) -> tuple[str, bool]:
    """The token to delete with, and whether it is the operator's stand-in for a lost one."""
    try:
        return await rt.token_for(meta["namespace"], spec.get("credentialsSecretRef")), False
    except CredentialsError as exc:
        fallback = rt.default_token()
        if fallback is None:
            _credentials_problem(body, f"{exc}; cannot release yet")
            raise kopf.TemporaryError(
                str(exc), delay=rt.settings.CFGPU_OPERATOR_SLOW_RETRY
            ) from None
        kopf.warn(
            body,
            reason="CredentialsError",
            message=f"{exc}; releasing with the operator's token instead",
        )
        return fallback, spec.get("credentialsSecretRef") is not None


def _credentials_problem(body: kopf.Body, message: str) -> None:
    kopf.warn(body, reason="CredentialsError", message=message)


async def _step(
    account: Account,
    body: kopf.Body,
    patch: kopf.Patch,
    status: dict[str, Any],
    policy: str,
    fallback: bool,
    pause: float,
    state: ObjectState,
) -> bool:
    """One deletion step; True when nothing is left to do."""
    instance_id = status.get("instanceId")
    if instance_id is None:
        instance_id = await _find(account, status["instanceName"])
        if instance_id is None:
            return True
        patch.status["instanceId"] = instance_id
    cycle = _cycle(account)
    # After our own stop or release, the shared poll is stale until its next cycle: read the
    # instance directly rather than act on the old state (which would repeat the call).
    seen = await _observe(account, instance_id, fresh=state.acted_cycle >= cycle)
    if seen is None and fallback:
        # Another account's instance is invisible to the operator's token: "not found" proves
        # nothing here, and dropping the finalizer could leave it running and billed.
        _credentials_problem(
            body,
            f"instance {instance_id} is not visible with the operator's "
            "token; restore the Secret, or set deletionPolicy: Orphan to let "
            "go of it",
        )
        raise kopf.TemporaryError("instance not visible with the fallback token", delay=pause)
    step = plan_delete(policy, instance_id, status.get("instanceName"), seen)
    # Reconcile timers stop once deletion starts: keep what users see current from here.
    patch.status["cfgpuStatus"] = seen.status_code if seen else None
    if seen is not None and step.kind == "wait":
        patch.status["phase"] = phase_of(seen.status_code).value
    _not_ready(body, patch, status, step.message)
    done = await _execute(account, body, patch, step, instance_id)
    if step.kind in ("stop", "release"):
        state.acted_cycle = account.poller.begun
    return done


def _cycle(account: Account) -> int:
    snapshot = account.poller.snapshot
    return snapshot.cycle if snapshot else -1


def _not_ready(body: kopf.Body, patch: kopf.Patch, status: dict[str, Any], message: str) -> None:
    """An instance on its way out is not Ready (kubectl, Argo CD and dependants see it)."""
    ready = Cond("Ready", "False", "Deleting", message)
    generation = body.get("metadata", {}).get("generation")
    conditions = set_condition(status.get("conditions") or [], ready, generation, now_rfc3339())
    status_fields.write_changes(patch.status, status, {"conditions": conditions})


async def _find(account: Account, name: str) -> str | None:
    records = [
        (r.instance_id, r.instance_name, r.status_code)
        async for r in account.client.iter_instances(key_word=name)
    ]
    found = match_by_name(records, name)
    if found.kind == "ambiguous":
        raise kopf.PermanentError(
            f"several instances are named {name}: "
            f"{', '.join(found.instance_ids)}; release them by hand"
        )
    return found.instance_ids[0] if found.kind == "one" else None


async def _observe(account: Account, instance_id: str, *, fresh: bool) -> Seen | None:
    snapshot: Snapshot | None = account.poller.snapshot
    code = snapshot.status_of(instance_id) if snapshot and not fresh else None
    if code is not None and code != "RELEASED":
        return Seen(code)
    try:  # not listed (or released): confirm directly; a missing instance counts as deleted
        return Seen((await account.client.get_instance_status(instance_id)).status_code)
    except NotFound:
        return None


async def _execute(
    account: Account, body: kopf.Body, patch: kopf.Patch, step: DeleteStep, instance_id: str
) -> bool:
    client = account.client
    if step.kind == "done":
        patch.status["phase"] = "Released"
        kopf.info(body, reason="Released", message=step.message)
        return True
    try:
        if step.kind == "stop":
            await client.stop_instance(instance_id)
            kopf.info(body, reason="Stopping", message=step.message)
            patch.status["phase"] = "Stopping"
        elif step.kind == "release":
            await client.release_instance(instance_id)
            kopf.info(body, reason="Releasing", message=step.message)
            patch.status["phase"] = "Releasing"
    except WrongState:
        pass
    except PrepaidNotExpired:
        expires = body.get("status", {}).get("expireTime") or "its expiry time"
        kopf.warn(
            body,
            reason="PrepaidNotExpired",
            message=f"instance {instance_id} is prepaid and stopped; CFGPU releases it "
            f"at {expires}, with no further charge",
        )
        return True
    account.poller.kick()
    return False


def _delay(rt: Runtime, exc: ApiError, retry: int) -> float:
    settings = rt.settings
    delay = backoff_delay(
        retry, base=settings.CFGPU_OPERATOR_BACKOFF_BASE, cap=settings.CFGPU_OPERATOR_BACKOFF_MAX
    )
    return max(delay, getattr(exc, "retry_after", None) or 0.0)
