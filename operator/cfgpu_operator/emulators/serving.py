"""Serve an emulator's aiohttp application on loopback, in-process or until interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

LOOPBACK = "127.0.0.1"


@asynccontextmanager
async def serve(app: web.Application, port: int = 0) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 (a free port when ``port`` is 0); yields its base URL."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port)
    try:
        await site.start()
        bound = runner.addresses[0][1]
        yield f"http://{LOOPBACK}:{bound}"
    finally:
        await runner.cleanup()


async def serve_forever(app: web.Application, port: int, banner: str) -> None:
    """Serve until cancelled (Ctrl-C), printing ``banner`` with the URL filled in."""
    async with serve(app, port) as url:
        print(banner.format(url=url), flush=True)
        await asyncio.Event().wait()
