"""Where a node comes from: the user's line it was traced from, and whether it is a derivative.

A node's `where` is `file:line: source`, the line whose op made it. Reverse mode records
`grad of file:line: source` on the nodes a VJP rule adds for the op traced at that line, so
the generated code can say which forward line each gradient statement serves. The mark is
part of the string: every pass that carries `where` along carries it too, and `where` is no
part of a node's hash, so marking changes neither CSE nor what the graph computes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

GRAD = "grad of "
_SITE = re.compile(r"(?P<file>.+):(?P<line>\d+)(?:: (?P<text>.*))?", re.DOTALL)


@dataclass(frozen=True)
class Origin:
    """A parsed `where`: the user's file, line number and line, and whether the node is part
    of a derivative of that line (a gradient, a tangent, a Hessian's second pass)."""

    file: str
    line: int
    text: str
    grad: bool

    @property
    def filename(self) -> str:
        """The file's name without its directory, as comments quote it."""
        return os.path.basename(self.file)


def gradient(where: str) -> str:
    """The `where` of a node that a VJP rule adds for the op traced at `where`; a derivative
    of a derivative keeps one mark (it still serves that line)."""
    if not where or where.startswith(GRAD):
        return where
    return GRAD + where


def parse(where: str) -> Origin | None:
    """The origin recorded in `where`, or None when the node was traced from no line."""
    grad = where.startswith(GRAD)
    m = _SITE.fullmatch(where[len(GRAD):] if grad else where)
    if m is None:
        return None
    return Origin(m["file"], int(m["line"]), (m["text"] or "").strip(), grad)
