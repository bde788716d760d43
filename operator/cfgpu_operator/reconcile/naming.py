"""Deterministic external names, so a crash between create and record finds, not re-rents."""

from __future__ import annotations

import hashlib
import re

MAX_NAME = 64
_UNSAFE = re.compile(r"[^a-zA-Z0-9-]+")


def instance_name(namespace: str, name: str, uid: str, cluster_id: str | None = None) -> str:
    """``k8sc-<cluster id>-<namespace>-<name>-<uid8>`` (``k8s-<namespace>-<name>-<uid8>``
    without a cluster id), at most 64 characters, the same every time.

    The uid part makes a re-created object with the same name a different instance; when
    namespace and name are too long, a hash of them keeps the result unique and short. The
    cluster's prefix is how its orphans are told from the names of other clusters and people.
    """
    head = f"k8sc-{cluster_id}-" if cluster_id else "k8s-"
    suffix = uid.replace("-", "")[:8]
    base = _UNSAFE.sub("-", f"{namespace}-{name}").strip("-")
    room = MAX_NAME - len(head) - len(suffix) - 1
    if len(base) > room:
        digest = hashlib.sha256(base.encode()).hexdigest()[:8]
        base = f"{base[: room - len(digest) - 1]}-{digest}"
    return f"{head}{base}-{suffix}"
