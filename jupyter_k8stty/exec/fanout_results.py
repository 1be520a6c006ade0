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

    def _rows(self) -> list[tuple[str, str, str, str]]:
        rows = []
        for name, r in self.items():
            code = "-" if r.exit_code is None else str(r.exit_code)
            rows.append((name, code, f"{r.duration:.2f}s", r.error or ""))
        return rows

    def table(self) -> str:
        """Return the summary as a plain-text table (pod, exit code, duration, error)."""
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
        body = []
        for name, code, duration, error in self._rows():
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
            f"<p>{html.escape(self.summary())}</p>"
        )

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text("FanoutResults(...)" if cycle else self.table())
