"""What the operator remembers about an object after its deletion finished."""

from __future__ import annotations

from cfgpu_operator.handlers import runtime
from cfgpu_operator.handlers.runtime import Runtime
from cfgpu_operator.settings import Settings


async def test_a_finished_deletion_is_remembered_for_a_late_rerun_and_bounded() -> None:
    """Kopf may run the delete handler once more on an older body before it drops the
    finalizer: that run must still know its DELETE went through (no second DELETE)."""
    rt = Runtime(Settings(CFGPU_API_URL="http://127.0.0.1:9"))
    rt.state("uid-0").removed = "swl-0"
    await rt.forget("uid-0")
    assert rt.state("uid-0").removed == "swl-0"
    await rt.forget("uid-0")
    for n in range(1, runtime.RETIRED + 1):
        rt.state(f"uid-{n}")
        await rt.forget(f"uid-{n}")
    assert rt.state("uid-0").removed is None  # the oldest memory made room
    await rt.close()
