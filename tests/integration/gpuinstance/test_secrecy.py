"""No piece of a token reaches what users and log collectors read, through the real operator:
status, Events and the log, even when CFGPU echoes the token back or a cut lands inside it."""

from __future__ import annotations

from tests.conftest import TOKEN
from tests.helpers import eventually
from tests.integration.gpuinstance.conftest import World


def pieces(texts: list[str], size: int = 8) -> set[str]:
    grams = {TOKEN[i : i + size] for i in range(len(TOKEN) - size + 1)}
    return {g for g in grams for text in texts if g in text}


async def test_echoed_and_cut_tokens_never_show(world: World) -> None:
    faults = world.cfgpu.emulator.faults
    # An error page whose token straddles character 200, where messages are cut.
    faults.http("instance/status", 502, times=3, message="x" * 190 + TOKEN + " tail")
    # A refusal quoting the token's first 12 characters.
    faults.error("instance/create", 10001, f"token {TOKEN[:12]} may not create here")
    world.apply("quiet")
    await eventually(lambda: world.ready("quiet").get("reason") == "InvalidSpec")
    await eventually(lambda: world.events("InvalidSpec"), what="the Warning Event")
    texts = [str(world.get("quiet")), world.operator.log()]
    texts += [str(e) for e in world.events()]
    assert pieces(texts) == set()
    assert "***" in world.ready("quiet")["message"]
