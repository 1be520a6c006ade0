"""``Terminal.expect``: wait for a pattern in the output, pexpect style (:class:`ExpectCursor`).

The cursor remembers how far previous matches consumed the output stream, so each
call only searches what came after the last match. Positions are counted in bytes
of the whole stream (the bridge's tail keeps only the most recent part), and a new
session (a reconnect) starts a new stream at position 0.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

__all__ = ["POLL_INTERVAL", "ExpectCursor"]

#: Seconds between two looks at the output while waiting for a match.
POLL_INTERVAL: float = 0.02

#: ``recent_span()``: the recent output and the stream position just after it.
SpanFn = Callable[[], "tuple[bytes, int]"]


class ExpectCursor:
    """Matches patterns against output not consumed by an earlier match.

    Args:
        recent_span: returns ``(recent bytes, stream position after them)``.
        stream: returns an object identifying the current stream (the session); when it
            changes, the cursor starts again at position 0.
        ended: set once the stream has ended (no more output will come).
    """

    def __init__(self, recent_span: SpanFn, stream: Callable[[], object], ended: threading.Event):
        self._recent_span = recent_span
        self._stream = stream
        self._ended = ended
        self._current: object = None
        self._mark = 0

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 10.0) -> re.Match[str]:
        """Wait until the output since the previous match matches ``pattern``; return the match.

        Raises:
            TimeoutError: no match within ``timeout`` seconds, or the stream ended
                without one (the message shows the last output).
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            ended = self._ended.is_set()  # read before the output: nothing after it is missed
            start, _end, text = self.pending()
            match = regex.search(text)
            if match is not None:
                consumed = len(text[: match.end()].encode("utf-8", errors="surrogateescape"))
                self._mark = start + consumed
                return match
            if ended or time.monotonic() >= deadline:
                why = "before the session ended" if ended else f"within {timeout:g} s"
                raise TimeoutError(f"{regex.pattern!r} did not appear {why}; last output: {text[-200:]!r}")
            time.sleep(POLL_INTERVAL)

    def pending(self) -> tuple[int, int, str]:
        """``(start position, end position, text)`` of the output not consumed yet."""
        data, end = self._recent_span()
        stream = self._stream()
        if stream is not None and stream is not self._current:
            self._current = stream
            self._mark = 0  # a new stream (first use or after a reconnect)
        mark = min(self._mark, end)
        first = end - len(data)
        skip = max(0, mark - first)
        # surrogateescape maps any stray byte to one code point and back, so a match's
        # end converts back to an exact stream position.
        text = data[skip:].decode("utf-8", errors="surrogateescape")
        return first + skip, end, text
