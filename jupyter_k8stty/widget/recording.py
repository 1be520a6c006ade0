"""Recording a terminal as an asciicast v2 file, tapped off the output stream.

The format (https://docs.asciinema.org/manual/asciicast/v2/) is newline-delimited
JSON: a header object, then one ``[time, code, data]`` array per event, ``time`` in
seconds since the recording started. :class:`AsciicastWriter` writes:

* the header: ``version`` 2, ``width`` and ``height`` (columns and rows at the start),
  ``timestamp`` (Unix seconds), ``title`` and ``env`` (``TERM``, ``SHELL``);
* ``"o"`` events: the pod's output, decoded as UTF-8 (a character split between two
  chunks is kept for the next one; invalid bytes become U+FFFD);
* ``"r"`` events: a resize, as ``"COLSxROWS"``;
* ``"i"`` events: the keys typed, **only** with ``record_input=True``: passwords typed
  at a prompt do not echo, so they appear in no ``"o"`` event, but they would in
  ``"i"`` events.

:class:`RecordingTap` sits between a terminal's connection and its bridge (an
:class:`~jupyter_k8stty.widget.connection.OutputSink`): every output byte on its way to
the browser is also given to the writer, if one is set. Events are written under a
lock from whichever thread produced them (the session's reader, the comm handler) and
flushed at most every :data:`FLUSH_EVERY` seconds, and when the recording stops.
"""

from __future__ import annotations

import codecs
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from ..errors import ArgumentError

__all__ = ["FLUSH_EVERY", "AsciicastWriter", "RecordingTap", "read_asciicast"]

#: Seconds between two flushes of the file while events arrive.
FLUSH_EVERY: float = 0.5
#: The ``env`` of the header: what the terminal emulates and the shell it runs.
HEADER_ENV = {"TERM": "xterm-256color", "SHELL": "/bin/sh"}


class AsciicastWriter:
    """Write one asciicast v2 file.

    Args:
        path: where to write (created or truncated; parent folders must exist).
        width: columns at the start.
        height: rows at the start.
        title: the header's ``title``.
        record_input: also write ``"i"`` events with the keys typed (off by default:
            they hold passwords typed at prompts).
        clock: seconds, monotonic (for tests).

    Raises:
        ArgumentError: the file cannot be created (one line saying why).
    """

    def __init__(self, path: str | os.PathLike[str], *, width: int, height: int,
                 title: str | None = None, record_input: bool = False,
                 clock: Callable[[], float] = time.monotonic):
        self.path = Path(path)
        self.record_input = record_input
        self._clock = clock
        self._lock = threading.Lock()
        self._decoders = {code: codecs.getincrementaldecoder("utf-8")("replace") for code in "oi"}
        try:
            self._file: IO[str] | None = open(self.path, "w", encoding="utf-8", newline="\n")
        except OSError as exc:
            raise ArgumentError(f"cannot record to {self.path}: {exc.strerror or exc}") from None
        self._start = clock()
        self._last_flush = self._start
        #: Number of events written.
        self.events = 0
        header: dict[str, Any] = {"version": 2, "width": int(width), "height": int(height),
                                  "timestamp": int(time.time()), "env": dict(HEADER_ENV)}
        if title:
            header["title"] = title
        self._file.write(json.dumps(header, ensure_ascii=False) + "\n")
        self._file.flush()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._file is None

    def output(self, data: bytes) -> None:
        """Record output bytes (an ``"o"`` event)."""
        self._text("o", data)

    def input(self, data: bytes) -> None:
        """Record typed bytes (an ``"i"`` event), if ``record_input`` is on."""
        if self.record_input:
            self._text("i", data)

    def resize(self, cols: int, rows: int) -> None:
        """Record a new size (an ``"r"`` event, ``"COLSxROWS"``)."""
        self._event("r", f"{int(cols)}x{int(rows)}")

    def marker(self, label: str = "") -> None:
        """Record a marker (an ``"m"`` event), a point to jump to in players."""
        self._event("m", label)

    def close(self) -> None:
        """Write what the decoders still hold, flush and close the file (idempotent)."""
        with self._lock:
            if self._file is None:
                return
            for code, decoder in self._decoders.items():
                rest = decoder.decode(b"", final=True)
                if rest:
                    self._write(code, rest)
            file, self._file = self._file, None
        file.close()

    def _text(self, code: str, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._file is None:
                return
            text = self._decoders[code].decode(bytes(data))
            if text:
                self._write(code, text)

    def _event(self, code: str, data: str) -> None:
        with self._lock:
            if self._file is not None:
                self._write(code, data)

    def _write(self, code: str, data: str) -> None:
        # The lock is held. Six decimals: asciinema's own resolution.
        assert self._file is not None
        now = self._clock()
        line = json.dumps([round(now - self._start, 6), code, data], ensure_ascii=False)
        self._file.write(line + "\n")
        self.events += 1
        if now - self._last_flush >= FLUSH_EVERY:
            self._file.flush()
            self._last_flush = now


class RecordingTap:
    """An output sink that passes everything on and gives output to a recording, when one runs.

    Args:
        sink: the sink behind it (the widget's bridge).
    """

    def __init__(self, sink: Any):
        self._sink = sink
        #: The recording in progress, else ``None``.
        self.writer: AsciicastWriter | None = None

    def feed(self, data: bytes) -> None:
        """Pass output on, and record it."""
        self._sink.feed(data)
        writer = self.writer
        if writer is not None:
            writer.output(data)

    def reset(self, acknowledge: Callable[[int], None] | None) -> None:
        """Start a new stream (a new session; the recording goes on across reconnects)."""
        self._sink.reset(acknowledge)

    def flush(self) -> None:
        """Deliver what the sink holds."""
        self._sink.flush()

    @property
    def path(self) -> str | None:
        """The path of the recording in progress, else ``None``."""
        writer = self.writer
        return str(writer.path) if writer else None

    def start(self, path: str, *, width: int, height: int, record_input: bool, title: str) -> str:
        """Stop the recording in progress, if any, and start one to ``path``; return the path.

        Raises:
            ArgumentError: the file cannot be created.
        """
        self.stop()
        writer = AsciicastWriter(path, width=width, height=height, record_input=record_input,
                                 title=title)
        self.writer = writer
        return str(writer.path)

    def stop(self) -> str | None:
        """Stop the recording in progress and close its file; return its path (``None`` if none ran)."""
        writer, self.writer = self.writer, None
        if writer is None:
            return None
        writer.close()
        return str(writer.path)

    def input(self, data: bytes) -> None:
        """Record keys typed (the writer keeps them only when it records input)."""
        writer = self.writer
        if writer is not None:
            writer.input(data)

    def resize(self, cols: int, rows: int) -> None:
        """Record a resize."""
        writer = self.writer
        if writer is not None:
            writer.resize(cols, rows)


def read_asciicast(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[list[Any]]]:
    """Read an asciicast v2 file: return its header and its events.

    Lines that are not events (blank, or cut by a recording that was not stopped) at
    the end are skipped.

    Raises:
        ArgumentError: the file cannot be read, or is not asciicast v2.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ArgumentError(f"cannot read the recording {path}: {exc}") from None
    lines = text.splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("version") != 2:
        raise ArgumentError(f"{path} is not an asciicast v2 recording (its first line must be a "
                            'JSON header with "version": 2)')
    for key in ("width", "height"):
        if not isinstance(header.get(key), int) or header[key] <= 0:
            raise ArgumentError(f"{path}: the header's {key} must be a whole number above 0")
    events = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            if number == len(lines):
                break  # the last line of a recording still being written
            raise ArgumentError(f"{path}:{number}: not a JSON event") from None
        if (not isinstance(event, list) or len(event) < 3 or not isinstance(event[0], (int, float))
                or not isinstance(event[1], str) or not isinstance(event[2], str)):
            raise ArgumentError(f"{path}:{number}: an event is [time, code, data]")
        events.append(event[:3])
    return header, events
