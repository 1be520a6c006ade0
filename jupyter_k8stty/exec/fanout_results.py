"""The results of a fan-out: one :class:`PodResult` per pod, shown as a summary table."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from ..errors import K8sTTYError
from .run import ExecResult

__all__ = ["FanoutResults", "PodResult"]


@dataclass
class PodResult(ExecResult):
    """The outcome on one pod of a fan-out: an :class:`ExecResult` that may carry an error.

    Attributes:
        exit_code: the command's exit code, or ``None`` when it never finished
            (see ``error``).
        error: one line saying why the command did not run to completion on this pod
            (no such pod, API server unreachable, timed out, cancelled); ``None`` when it did.
        name: the pod's name (the key of the result dict).
    """

    exit_code: int | None  # type: ignore[assignment]
    error: str | None = None
    name: str = ""
    started: float = field(default=0.0, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the command ran and exited 0."""
        return self.error is None and self.exit_code == 0

    def check_returncode(self) -> PodResult:
        """Return ``self``; raise :class:`ExecError` on a non-zero exit, :class:`K8sTTYError` on an error."""
        if self.error is not None:
            raise K8sTTYError(f"{self.name}: {self.error}")
        super().check_returncode()
        return self


#: Pods that exited 0 shown unfolded in the HTML summary; more are folded under one line.
SHOWN_OK: int = 20


def _html_table(rows: list[tuple[str, str, str, str]]) -> str:
    body = []
    for name, code, duration, error in rows:
        bad = code != "0" or error
        style = ' style="color:var(--jp-error-color1,#c62828)"' if bad else ""
        body.append(
            f"<tr><td style=\"text-align:left\">{html.escape(name)}</td>"
            f"<td{style}>{html.escape(code)}</td><td>{duration}</td>"
            f"<td style=\"text-align:left\">{html.escape(error)}</td></tr>"
        )
    return (
        "<table class=\"k8stty-fanout\"><thead><tr><th style=\"text-align:left\">pod</th>"
        "<th>exit code</th><th>duration</th><th style=\"text-align:left\">error</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


class FanoutResults(dict):
    """``{pod name: PodResult}`` in the order pods were listed; shows as a summary table.

    In a notebook the table is HTML; elsewhere it is plain text. ``print(results)``
    still prints the dict.
    """

    @property
    def failed(self) -> dict[str, PodResult]:
        """The pods whose command did not exit 0 (or did not run)."""
        return {name: r for name, r in self.items() if not r.ok}

    @property
    def ok(self) -> bool:
        """Whether the command exited 0 on every pod."""
        return all(r.ok for r in self.values())

    def summary(self) -> str:
        """Return a one-line count such as ``20 pods: 19 exited 0, 1 failed``."""
        failed = len(self.failed)
        total = len(self)
        noun = "pod" if total == 1 else "pods"
        if not failed:
            return f"{total} {noun}: all exited 0"
        return f"{total} {noun}: {total - failed} exited 0, {failed} failed"

    def _rows(self, *, ok: bool | None = None) -> list[tuple[str, str, str, str]]:
        """Rows ``(pod, exit code, duration, note)``: failures first, then the rest, each in order.

        ``ok`` keeps only the pods that exited 0 (``True``) or the others (``False``).
        """
        rows = []
        for name, r in sorted(self.items(), key=lambda item: item[1] is not None and item[1].ok):
            if r is None:  # still running
                if ok is not True:
                    rows.append((name, "-", "-", "running"))
                continue
            if ok is not None and r.ok != ok:
                continue
            code = "-" if r.exit_code is None else str(r.exit_code)
            note = r.error or ""
            if r.truncated:
                note = "; ".join(filter(None, [note, *r.cut_notes()]))
            rows.append((name, code, f"{r.duration:.2f}s", note))
        return rows

    def table(self) -> str:
        """Return the summary as a plain-text table (pod, exit code, duration, error), failures first."""
        header = ("POD", "EXIT", "DURATION", "ERROR")
        rows = self._rows()
        widths = [max(len(header[i]), *(len(row[i]) for row in rows)) if rows else len(header[i])
                  for i in range(3)]
        lines = []
        for row in (header, *rows):
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            lines.append("  ".join([*cells, row[3]]).rstrip())
        lines.append(self.summary())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Return the summary line, the failures in full, and the pods that exited 0 (folded when many)."""
        failed, passed = self._rows(ok=False), self._rows(ok=True)
        parts = [f"<p class=\"k8stty-fanout-summary\">{html.escape(self.summary())}</p>"]
        if failed:
            parts.append(_html_table(failed))
        if passed and (len(passed) > SHOWN_OK or failed):
            noun = "pod" if len(passed) == 1 else "pods"
            open_ = "" if failed or len(passed) > SHOWN_OK else " open"
            parts.append(f"<details{open_}><summary>{len(passed)} {noun} exited 0</summary>"
                         f"{_html_table(passed)}</details>")
        elif passed:
            parts.append(_html_table(passed))
        return "".join(parts)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text("FanoutResults(...)" if cycle else self.table())
