"""The official openai SDK alone, as a researcher's own script would drive it: the same requests
ihsim sends for a dilemma file, over the same number of connections, in a bare asyncio loop.

`make bench` runs it beside `ihsim run` on the same fake server. Its wall time is the floor for any
tool built on the SDK on this machine, so the ratio of the two is ihsim's own overhead, while the
ratio to the ideal also holds the SDK's and the machine's.

    python -m bench.sdk_loop URL DILEMMAS CONNECTIONS
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import openai
import orjson


async def drive(url: str, dilemmas: Path, connections: int) -> None:
    bodies = [
        orjson.dumps(
            {
                "model": "fake",
                "messages": [
                    {"role": m["role"], "content": m["content"]}
                    for m in orjson.loads(line)["messages"]
                ],
            }
        )
        for line in dilemmas.read_bytes().splitlines()
        if line.strip()
    ]
    client = openai.AsyncOpenAI(
        api_key="sk-bench",
        base_url=url,
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(timeout=60),
    )
    pending = iter(bodies)

    async def worker() -> None:
        for body in pending:
            orjson.loads(await client.post("/chat/completions", content=body, cast_to=bytes))

    try:
        await asyncio.gather(*(worker() for _ in range(connections)))
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))
