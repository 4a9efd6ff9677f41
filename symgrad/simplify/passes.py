"""The pass manager: named passes `Graph -> Graph`, each switchable, run in order.

Every rewriting pass rebuilds the graph from its outputs (`patterns.rebuild`), so dead code
is dropped and equal subexpressions merge as a side effect of any pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from symgrad.ir import Graph, verify
from symgrad.simplify.algebra import ALGEBRA, FOLD
from symgrad.simplify.contraction import contraction_pass
from symgrad.simplify.idioms import IDIOMS
from symgrad.simplify.patterns import Rules, rebuild
from symgrad.simplify.stability import STABILITY
from symgrad.simplify.sympy_gain import may_gain

Pass = Callable[[Graph, dict], Graph]  # (graph, counts of the rules that fired) -> graph


def _rewrite(rules: Rules) -> Pass:
    return lambda graph, fired: rebuild(graph, rules, fired)


def _sympy(graph: Graph, fired: dict) -> Graph:
    """The SymPy pass where it can gain something (`may_gain`); SymPy is imported when it
    first runs (a third of a second)."""
    if not may_gain(graph):
        fired["sympy: nothing to merge or share, skipped"] = 1
        return graph
    from symgrad.simplify.sympy_pass import sympy_pass
    return sympy_pass(graph)


PASSES: dict[str, Pass] = {
    "fold": _rewrite(Rules(FOLD)),
    "contraction": contraction_pass,
    "stability": _rewrite(Rules(STABILITY, IDIOMS)),
    "algebra": _rewrite(Rules(ALGEBRA)),
    "sympy": _sympy,
    "dce": _rewrite(Rules()),
}
DEFAULT_PASSES = ("fold", "stability", "algebra", "contraction", "sympy", "algebra", "dce")


@dataclass
class PassStat:
    """What one pass did: node counts before and after, its time in seconds, and how many
    times each rewrite rule fired."""

    name: str
    before: int
    after: int
    seconds: float
    fired: dict[str, int] = field(default_factory=dict)


def simplify(graph: Graph, passes: tuple[str, ...] = DEFAULT_PASSES, stats: list[PassStat] | None = None,
             check: bool = False) -> Graph:
    """Run the named passes in order; append a `PassStat` per pass to `stats` if given. With
    `check`, the IR verifier runs on the graph before the first pass and after each one."""
    unknown = [name for name in passes if name not in PASSES]
    if unknown:
        raise ValueError(f"unknown pass {unknown[0]!r}; the passes are {', '.join(PASSES)}")
    if check:
        verify(graph)
    for name in passes:
        start, before, fired = time.perf_counter(), len(graph), {}
        graph = PASSES[name](graph, fired)
        if check:
            verify(graph)
        if stats is not None:
            stats.append(PassStat(name, before, len(graph), time.perf_counter() - start, fired))
    return graph
