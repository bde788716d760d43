"""The shared poller's cadence, table-style, and its snapshot through the real client."""

from __future__ import annotations

from typing import Any

import pytest

from cfgpu_operator.clients.cfgpu import CfgpuClient
from cfgpu_operator.clients.cfgpu_poller import Poller, Snapshot
from tests.conftest import ServedCfgpu


def poller(jitter: float = 0.5) -> Poller:
    client = CfgpuClient("unused", base_url="http://127.0.0.1:9")
    return Poller(client, fast=2.0, slow=60.0, jitter=lambda: jitter)


@pytest.mark.parametrize(
    ("statuses", "urgent", "failures", "jitter", "expected"),
    [
        ({"i": "RUNNING"}, False, 0, 0.5, 60.0),  # stable: slow
        ({"i": "RUNNING", "j": "STARTING"}, False, 0, 0.5, 2.0),  # something moving: fast
        ({"i": "CLOSED"}, True, 0, 0.5, 2.0),  # an object asked for news
        ({"i": "RUNNING"}, False, 0, 1.0, 66.0),  # jitter +10 %
        ({"i": "RUNNING"}, False, 0, 0.0, 54.0),  # jitter -10 %
        ({"i": "STARTING"}, False, 1, 0.5, 4.0),  # failing: back off from fast...
        ({"i": "STARTING"}, False, 10, 0.5, 60.0),  # ...up to slow, never faster
    ],
)
def test_interval(
    statuses: dict[str, str], urgent: bool, failures: int, jitter: float, expected: float
) -> None:
    p = poller(jitter)
    p.snapshot = Snapshot(1, statuses)
    p.failures = failures
    if urgent:
        p.kick()
    assert p.interval() == pytest.approx(expected)


async def test_one_cycle_is_status_plus_page_whatever_the_instances(cfgpu: ServedCfgpu) -> None:
    from tests.integration.test_cfgpu_client_endpoints import request

    cfgpu.emulator.state.set_stock("hz", "nt8cyt3s", 100)
    async with cfgpu.client() as client:
        for n in range(30):
            await client.create_instance(request(f"p{n}"))
        p = Poller(client, fast=1, slow=1)
        before = len(cfgpu.emulator.calls())
        snapshot = await p.poll_once()
    assert len(snapshot.statuses) == 30
    assert len(snapshot.records) == 30
    assert [c.endpoint for c in cfgpu.emulator.calls()[before:]] == [
        "instance/status",
        "instance/page",
    ]


async def test_the_listing_is_read_again_only_when_it_can_have_changed(
    cfgpu: ServedCfgpu,
) -> None:
    """A steady account costs one call per cycle: the pages behind the status list are read
    again for a new instance, a changed status, a call an object made, or their age."""
    from cfgpu_operator.clients import cfgpu_poller
    from cfgpu_operator.emulators.cfgpu import actions
    from tests.integration.test_cfgpu_client_endpoints import request

    emulator = cfgpu.emulator
    emulator.config.create_seconds = emulator.config.stop_seconds = 0
    now = [0.0]
    async with cfgpu.client() as client:
        first = await client.create_instance(request("steady-0"))
        p = Poller(client, fast=1, slow=1, clock=lambda: now[0])

        async def cycle() -> list[str]:
            before = len(emulator.calls())
            await p.poll_once()
            return [c.endpoint for c in emulator.calls()[before:]]

        assert await cycle() == ["instance/status", "instance/page"]  # first look
        assert await cycle() == ["instance/status"]  # nothing changed
        second = await client.create_instance(request("steady-1"))
        assert await cycle() == ["instance/status", "instance/page"]  # a new instance
        assert second in (p.snapshot.records if p.snapshot else {})
        assert await cycle() == ["instance/status"]
        account = next(iter(emulator.state.accounts.values()))
        actions.stop(emulator.state, account, first)  # out of band: the status changes
        assert await cycle() == ["instance/status", "instance/page"]
        assert await cycle() == ["instance/status"]
        p.refresh()  # an object made a call
        assert await cycle() == ["instance/status", "instance/page"]
        now[0] += cfgpu_poller.RECORDS_MAX_AGE
        assert await cycle() == ["instance/status", "instance/page"]  # old enough
        assert await cycle() == ["instance/status"]


async def test_a_row_lost_between_pages_marks_the_snapshot_incomplete(cfgpu: ServedCfgpu) -> None:
    """Paging is not atomic: instances released right after page 1 was read move the rows
    after them forward, and one is never seen. Such a snapshot cannot prove that a name is
    free (the operator then searches by name before renting)."""
    from cfgpu_operator.emulators.cfgpu import actions
    from tests.integration.test_cfgpu_client_endpoints import request

    emulator = cfgpu.emulator
    emulator.config.create_seconds = emulator.config.release_seconds = 0
    emulator.config.stop_seconds = 0
    emulator.state.set_stock("hz", "nt8cyt3s", 200)
    async with cfgpu.client() as client:
        for n in range(120):
            await client.create_instance(request(f"r{n}"))
        whole = await Poller(client, fast=1, slow=1).poll_once()
        assert whole.complete
        assert len(whole.records) == 120

        account = next(iter(emulator.state.accounts.values()))
        first_page = emulator._page_content

        def then_release_five(owner: Any, query: dict[str, Any]) -> dict[str, Any]:
            content = first_page(owner, query)
            if query.get("currentPage") == 1:
                for row in content["records"][:5]:
                    actions.stop(emulator.state, account, row["instanceId"])
                    emulator.state.settle()
                    actions.release(emulator.state, account, row["instanceId"])
            return content

        emulator._page_content = then_release_five  # type: ignore[method-assign,assignment]
        torn = await Poller(client, fast=1, slow=1).poll_once()
    assert not torn.complete
    assert len([code for code in torn.statuses.values() if code != "RELEASED"]) == 120
    assert len(torn.records) == 115  # the 5 released moved 5 rows onto page 1, unseen
