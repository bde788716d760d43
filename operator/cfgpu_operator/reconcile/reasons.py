"""Every reason the operator writes: on conditions, and on Events. The README's reason tables
list exactly these (a test keeps them equal), so users can look up anything they see."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Condition reasons (``Ready``; ``Synced`` for API trouble)."""

    # In the desired state, or on the way there.
    RUNNING = "Running"
    STOPPED = "Stopped"
    CREATING = "Creating"
    STARTING = "Starting"
    STOPPING = "Stopping"
    REIMAGING = "Reimaging"
    RELEASING = "Releasing"
    ADOPTING = "Adopting"
    TRANSITIONING = "Transitioning"
    DELETING = "Deleting"
    SYNCED = "Synced"
    # SafeWorkload progress.
    WAITING_FOR_GPU_INSTANCES = "WaitingForGpuInstances"
    GPU_INSTANCE_NOT_FOUND = "GpuInstanceNotFound"
    WAITING_FOR_DEPENDENCIES = "WaitingForDependencies"
    SUBMITTING = "Submitting"
    SUBMITTED = "Submitted"
    PENDING = "Pending"
    UPDATING = "Updating"
    NOT_READY = "NotReady"
    SUCCEEDED = "Succeeded"
    SUSPENDING = "Suspending"
    SUSPENDED = "Suspended"
    RESUMING = "Resuming"
    # Held: the operator reports but does not act.
    OBSERVE_ONLY = "ObserveOnly"
    PAUSED = "Paused"
    # A person must act (or wait for CFGPU / the platform).
    INVALID_SPEC = "InvalidSpec"
    AMBIGUOUS_INSTANCE = "AmbiguousInstance"
    ALREADY_MANAGED = "AlreadyManaged"
    INSTANCE_NOT_FOUND = "InstanceNotFound"
    INSTANCE_GONE = "InstanceGone"
    INSTANCE_FAILED = "InstanceFailed"
    INSTANCE_EXPIRED = "InstanceExpired"
    EXPIRED = "Expired"  # released by spec.lifecycle.releaseAfter
    OUTSIDE_SCHEDULE = "OutsideSchedule"  # not rented until a power window opens
    PREPAID_NOT_EXPIRED = "PrepaidNotExpired"
    WAITING_FOR_CAPACITY = "WaitingForCapacity"
    INSUFFICIENT_BALANCE = "InsufficientBalance"
    QUOTA_EXCEEDED = "QuotaExceeded"
    UNAUTHORIZED = "Unauthorized"
    FORBIDDEN = "Forbidden"
    CREDENTIALS_ERROR = "CredentialsError"
    WORKSPACE_NOT_FOUND = "WorkspaceNotFound"
    SCOPE_NOT_ALLOWED = "ScopeNotAllowed"
    WORKLOAD_FAILED = "WorkloadFailed"
    STOPPED_ON_PLATFORM = "StoppedOnPlatform"
    IMMUTABLE_AFTER_DISPATCH = "ImmutableAfterDispatch"
    # The API itself is in trouble (Synced=False).
    API_UNAVAILABLE = "ApiUnavailable"
    RATE_LIMITED = "RateLimited"
    API_ERROR = "ApiError"


class EventReason(StrEnum):
    """Reasons of the Events the operator posts besides those of error episodes (which use
    the condition reason)."""

    INSTANCE_CREATED = "InstanceCreated"
    INSTANCE_ADOPTED = "InstanceAdopted"
    STARTING = "Starting"
    STOPPING = "Stopping"
    REIMAGING = "Reimaging"
    RELEASING = "Releasing"
    RELEASED = "Released"
    DELETED = "Deleted"
    SYSTEM_DISK_EXPANDED = "SystemDiskExpanded"
    INSTANCE_EXPIRING = "InstanceExpiring"
    QUOTA_STOP = "QuotaStop"
    LIFECYCLE_STOP = "LifecycleStop"
    LIFECYCLE_STOPPED = "LifecycleStopped"
    LIFECYCLE_START = "LifecycleStart"
    LIFECYCLE_RELEASE = "LifecycleRelease"
    LIFECYCLE_DEFERRED = "LifecycleDeferred"
    EXPIRED = "Expired"
    SUBMITTED = "Submitted"
    RESUMED = "Resumed"
    UPDATED = "Updated"
    DELETING = "Deleting"
    GPU_INSTANCES_STOP = "GpuInstancesStop"
    GPU_INSTANCES_RELEASE = "GpuInstancesRelease"
    # On the cluster's ConfigMap, not on an object of a kind: see reconcile/orphans.py.
    ORPHANED_INSTANCE = "OrphanedInstance"
