"""A session's replay buffer: the newest frames it sent, by id, for a reconnecting stream."""

from __future__ import annotations

from collections import deque

from .transport import encode_message


class ReplayBuffer:
    """Numbers and encodes each frame, keeping the newest within a frame and a byte bound.

    A stream that reconnects with ``Last-Event-ID`` gets the frames after it (``since``); one
    from before the oldest kept frame cannot be replayed and must resync instead.
    """

    __slots__ = ("_byte_limit", "_bytes", "_frames", "_size", "last_id")

    def __init__(self, size: int, byte_limit: int) -> None:
        self._size = size
        self._byte_limit = byte_limit
        self._frames: deque[tuple[int, bytes]] | None = None  # made with the first frame
        self._bytes = 0
        self.last_id = 0

    def add(self, body: str) -> bytes:
        """Number and encode one frame, keep it, and return it for the stream."""
        self.last_id += 1
        frames = self._frames
        if frames is None:
            frames = self._frames = deque(maxlen=self._size)
        if len(frames) == frames.maxlen:
            self._bytes -= len(frames[0][1])
        data = encode_message(body, event_id=str(self.last_id))
        frames.append((self.last_id, data))
        self._bytes += len(data)
        while self._bytes > self._byte_limit and len(frames) > 1:
            self._bytes -= len(frames.popleft()[1])
        return data

    def since(self, last_id: int) -> list[bytes] | None:
        """The frames after ``last_id``, or None when some of them are no longer kept."""
        frames = self._frames or ()
        oldest = frames[0][0] if frames else self.last_id + 1
        if not oldest - 1 <= last_id <= self.last_id:
            return None
        return [data for frame_id, data in frames if frame_id > last_id]

    @property
    def newest(self) -> bytes | None:
        """The newest frame kept, if any."""
        return self._frames[-1][1] if self._frames else None
