"""The shared poller's cadence, table-style, and its snapshot through the real client."""

from __future__ import annotations

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
