"""Several `triobot run` workers on one database, behind one webhook URL.

The Balancer is the small round-robin load balancer a deployment puts in front of its
workers: each update Telegram posts goes to the next worker; a worker that refuses the
connection (killed, or still starting) is passed over for the next, as a real balancer
retries another upstream when one cannot be reached; a request already sent to a worker
that then died gets 502 (it may have been taken: a balancer does not send a POST twice),
and Telegram posts that update again later. With every worker refusing it answers 502.

The Fleet is the workers, to the simulator the same as one BotProcess: `kill` and
`terminate` take one worker at random (never all at once: the others keep working), and
`start` starts whichever are down.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.term_world import BotProcess, free_port

WEBHOOK_PATH = "/telegram/update"


class Balancer:
    """Round-robin over `backends` (host:port each), passing over refused connections."""

    def __init__(self, backends: list[str] | None = None) -> None:
        self.backends = backends or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"
        self._next = 0
        self.counts: Counter[str] = Counter()  # forwarded, passed over, 502s, per worker
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.add_routes([web.post(WEBHOOK_PATH, self.forward)])
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    @property
    def started(self) -> bool:
        return self._runner is not None

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        for _ in range(len(self.backends)):
            backend = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                async with self._session.post(
                    f"http://{backend}{WEBHOOK_PATH}", data=body, headers=headers
                ) as answer:
                    self.counts[f"forwarded to {backend}"] += 1
                    return web.Response(status=answer.status, body=await answer.read())
            except aiohttp.ClientConnectorError:
                self.counts["passed over (connection refused)"] += 1
                continue
            except (aiohttp.ClientError, TimeoutError):
                self.counts["502 (worker gone mid-request)"] += 1
                return web.Response(status=502, text="bad gateway")
        self.counts["502 (every worker refused)"] += 1
        return web.Response(status=502, text="no worker")


_HOP = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


class Fleet:
    """`count` workers on one database and one stand-in, behind `balancer`."""

    def __init__(
        self,
        count: int,
        db: Path | str,
        url: str,
        clock: Path,
        workdir: Path,
        poll: float,
        rng: random.Random,
    ) -> None:
        self.rng = rng
        self.balancer = Balancer()
        self.workers: list[BotProcess] = []
        for i in range(count):
            folder = workdir / f"worker-{i + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            self.workers.append(BotProcess(
                db, url, clock, folder / "bot.log", poll, webhook=True,
                webhook_url=self.balancer.url,
            ))  # fmt: skip
        self.balancer.backends = [str(w.listen) for w in self.workers]
        self.log = self.workers[0].log  # the first worker's: read by the fault episodes

    async def start(self) -> None:
        """Start every worker that is not running (and the balancer, the first time)."""
        if not self.balancer.started:
            await self.balancer.start()
        for w in self.workers:
            if not w.alive:
                await w.start()

    async def kill(self) -> None:
        await self._one().kill()

    async def terminate(self, final: bool = False) -> tuple[float, int | None]:
        return await self._one().terminate(final)

    async def stop(self) -> int:
        """Every running worker's last stop; the first nonzero exit code, else 0."""
        codes = await asyncio.gather(*(w.stop() for w in self.workers if w.alive))
        await self.balancer.close()
        return next((c for c in codes if c != 0), 0)

    async def up(self, within: float = 60.0) -> bool:
        found = await asyncio.gather(*(w.up(within) for w in self.workers))
        return all(found)

    def _one(self) -> BotProcess:
        running = [w for w in self.workers if w.alive]
        assert running, "no worker is running"
        return self.rng.choice(running)

    @property
    def alive(self) -> bool:
        return all(w.alive for w in self.workers)

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        return next((w.process for w in self.workers if not w.alive), self.workers[0].process)

    @property
    def starts(self) -> int:
        return sum(w.starts for w in self.workers)

    @property
    def kills(self) -> int:
        return sum(w.kills for w in self.workers)

    @property
    def stopped_starting(self) -> int:
        return sum(w.stopped_starting for w in self.workers)

    @property
    def stops(self) -> list[tuple[float, int | None, bool]]:
        return [stop for w in self.workers for stop in w.stops]

    def logs(self) -> list[Path]:
        return [w.log for w in self.workers]
