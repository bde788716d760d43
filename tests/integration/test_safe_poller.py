"""The Primus-SaFE account poll: one list per watched workspace, a failing workspace failing
only its own objects."""

from __future__ import annotations

import pytest

from cfgpu_operator.clients.safe_poller import SafePoller
from cfgpu_operator.errors import Forbidden
from tests.conftest import ServedSafe
from tests.integration.test_safe_client import job


async def test_a_workspace_the_key_cannot_list_fails_only_itself(safe: ServedSafe) -> None:
    async with safe.client() as client:
        await client.create_workload(job(workload_id="mine", env={"TAG": "x"}))
        safe.clock.advance(0.5)
        poller = SafePoller(client, tag_key="TAG", fast=1, slow=1)
        poller.workspaces.update({"ws-train", "ws-ray"})  # alice is no member of ws-ray
        snapshot = await poller.poll_once()
        assert list(snapshot.items) == ["mine"]
        assert isinstance(snapshot.failed["ws-ray"], Forbidden)
        assert poller.busy()  # a live workload: keep polling fast
        poller.workspaces.discard("ws-train")
        with pytest.raises(Forbidden):  # nothing could be listed: the poll failed
            await poller.poll_once()
