"""The directory of other objects the handlers consult (which replaced Kopf's indexes)."""

from __future__ import annotations

from cfgpu_operator.handlers.directory import Directory

READY = {"conditions": [{"type": "Ready", "status": "True"}]}


def meta(name: str, uid: str) -> dict[str, str]:
    return {"namespace": "ml", "name": name, "uid": uid}


def test_seeded_objects_are_known_before_any_handler() -> None:
    d = Directory()
    d.seed("GpuInstance", [{"metadata": meta("a", "u1"), "status": {"instanceId": "i-1", **READY}}])
    d.seed("SafeWorkload", [{"metadata": meta("w", "u2"), "status": {"workloadId": "swl-1"}}])
    assert d.owners == {"i-1": "ml/a"}
    assert d.gpu_ready == {("ml", "a"): True}
    assert d.workload_ids == {}  # recorded but not submitted: no dependency on it yet


def test_forgetting_one_kind_leaves_the_other_of_the_same_name() -> None:
    d = Directory()
    d.saw_gpu_instance("g", meta("same", "g"), {"instanceId": "i-1", **READY})
    d.saw_workload("w", meta("same", "w"), {"workloadId": "swl-1", "submittedAt": "t"})
    d.forget("w")
    assert d.gpu_ready == {("ml", "same"): True}
    assert d.workload_ids == {}
    d.forget("g")
    assert d.owners == {}
    assert d.gpu_ready == {}
