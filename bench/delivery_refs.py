"""Well-built concurrent senders for the delivery benchmark: what seqctl's channels are held to.

Each sends the same emails (or JSON POSTs) as the plain loops of delivery_loops, over
`connections` connections at once, each kept for the whole run, and returns the seconds it
took. Threads with the standard library, and asyncio with the libraries people pick for this
(aiosmtplib, aiohttp, httpx: each used when it is installed).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import smtplib
import threading
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any

from delivery_loops import HOST, SENDER, fields
from measure import BenchFailure

from seqctl.channels import Outgoing


def _email(m: Outgoing) -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = m.to
    message["Subject"] = m.subject
    message.set_content(m.body or "")
    return message


def _on_threads(count: int, messages: Sequence[Outgoing], work: Callable[[Any], None]) -> float:
    """Run work(next_message) on `count` threads until the messages are gone."""
    lock = threading.Lock()
    remaining = list(reversed(messages))
    errors: list[BaseException] = []

    def take() -> Outgoing | None:
        with lock:
            return remaining.pop() if remaining else None

    def run() -> None:
        try:
            work(take)
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    if errors:
        raise BenchFailure(f"concurrent sender: {errors[0]!r}")
    return seconds


def smtplib_threads(port: int, messages: Sequence[Outgoing], connections: int) -> float:
    """smtplib sessions on `connections` threads, one message after another on each."""

    def work(take: Callable[[], Outgoing | None]) -> None:
        with smtplib.SMTP(HOST, port, local_hostname="bench.localhost", timeout=30) as smtp:
            while (m := take()) is not None:
                if smtp.send_message(_email(m)):
                    raise BenchFailure("smtplib threads: the sink refused a recipient")

    return _on_threads(connections, messages, work)


def aiosmtplib_connections(port: int, messages: Sequence[Outgoing], connections: int) -> float:
    """`connections` aiosmtplib clients on one event loop."""
    import aiosmtplib

    async def main() -> float:
        queue: asyncio.Queue[Outgoing] = asyncio.Queue()
        for m in messages:
            queue.put_nowait(m)

        async def client() -> None:
            smtp = aiosmtplib.SMTP(
                hostname=HOST, port=port, local_hostname="bench.localhost", timeout=30
            )
            await smtp.connect()
            try:
                while not queue.empty():
                    await smtp.send_message(_email(queue.get_nowait()))
            finally:
                await smtp.quit()

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        return time.perf_counter() - start

    return asyncio.run(main())


def httpclient_threads(port: int, messages: Sequence[Outgoing], connections: int) -> float:
    """http.client keep-alive connections on `connections` threads."""

    def work(take: Callable[[], Outgoing | None]) -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            while (m := take()) is not None:
                connection.request("POST", "/hook", body=_body(m), headers=_headers(m))
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise BenchFailure(f"http.client threads: {response.status}")
        finally:
            connection.close()

    return _on_threads(connections, messages, work)


def aiohttp_connections(port: int, messages: Sequence[Outgoing], connections: int) -> float:
    """One aiohttp session with at most `connections` connections, all requests gathered."""
    import aiohttp

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:
            gate = asyncio.Semaphore(connections)
            url = f"http://{HOST}:{port}/hook"

            async def post(m: Outgoing) -> None:
                async with gate, session.post(url, data=_body(m), headers=_headers(m)) as reply:
                    await reply.read()
                    if reply.status != 200:
                        raise BenchFailure(f"aiohttp: {reply.status}")

            start = time.perf_counter()
            await asyncio.gather(*(post(m) for m in messages))
            return time.perf_counter() - start

    return asyncio.run(main())


def httpx_connections(port: int, messages: Sequence[Outgoing], connections: int) -> float:
    """One httpx AsyncClient with at most `connections` connections."""
    import httpx

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            gate = asyncio.Semaphore(connections)
            url = f"http://{HOST}:{port}/hook"

            async def post(m: Outgoing) -> None:
                async with gate:
                    reply = await client.post(url, content=_body(m), headers=_headers(m))
                    if reply.status_code != 200:
                        raise BenchFailure(f"httpx: {reply.status_code}")

            start = time.perf_counter()
            await asyncio.gather(*(post(m) for m in messages))
            return time.perf_counter() - start

    return asyncio.run(main())


def _body(m: Outgoing) -> bytes:
    return json.dumps(fields(m), ensure_ascii=False, separators=(",", ":")).encode()


def _headers(m: Outgoing) -> dict[str, str]:
    return {"Content-Type": "application/json", "Idempotency-Key": m.idempotency_key}


def installed(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True
