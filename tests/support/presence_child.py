"""A process that tracks presences through Redis and then waits to be killed (a SIGKILL test's victim).

    python -m tests.support.presence_child REDIS_URL PREFIX TOPIC KEY...
"""

from __future__ import annotations

import asyncio
import sys

from fastapi_live.presence import Presence, RedisPresenceStore
from fastapi_live.pubsub import create_pubsub
from fastapi_live.pubsub.redis import RedisPubSub


async def main(url: str, prefix: str, topic: str, keys: list[str]) -> None:
    pubsub = create_pubsub(url)
    assert isinstance(pubsub, RedisPubSub), pubsub
    pubsub.channel_prefix = prefix
    await pubsub.start()
    presence = Presence(pubsub, RedisPresenceStore(pubsub.client(), prefix=prefix))
    await presence.start()
    for n, key in enumerate(keys):
        await presence.track(f"session-{n}", topic, key, {"name": key})
    print("tracking", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))
