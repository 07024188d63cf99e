"""The baseline: the smallest honest aiohttp streaming client (closed loop).
Each worker posts, reads the SSE body with iter_any, json-parses every event,
and loops; on uvloop when installed, like tgictl bench. Prints completed streams per second as JSON.
Usage: python baseline_client.py URL CONCURRENCY SECONDS
"""

import asyncio
import json
import sys
import time

import aiohttp


async def worker(session, url, deadline, done):
    body = {"prompt": "hi", "max_tokens": 64, "stream": True}
    while time.perf_counter() < deadline:
        async with session.post(url, json=body) as response:
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.startswith(b"data:") and line[5:].strip() != b"[DONE]":
                        json.loads(line[5:])
        done.append(time.perf_counter())


async def main(url, concurrency, seconds):
    done = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session, url, start + seconds, done) for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    print(json.dumps({"streams_per_s": len(done) / elapsed}))


if __name__ == "__main__":
    try:  # the same event loop tgictl bench uses, so the comparison is of client code
        import uvloop

        uvloop.run(main(sys.argv[1] + "/v1/completions", int(sys.argv[2]), float(sys.argv[3])))
    except ImportError:
        asyncio.run(main(sys.argv[1] + "/v1/completions", int(sys.argv[2]), float(sys.argv[3])))
