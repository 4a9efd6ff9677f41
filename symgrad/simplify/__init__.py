"""Simplification: passes `Graph -> Graph`, each named and switchable; rewrite rules are rows
of tables (`algebra`, `stability`) over a small pattern matcher (`patterns`)."""

from symgrad.simplify.passes import DEFAULT_PASSES, PASSES, PassStat, simplify
from symgrad.simplify.stability import stabilize

__all__ = ["DEFAULT_PASSES", "PASSES", "PassStat", "simplify", "stabilize"]
