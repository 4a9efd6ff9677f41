"""Simplification: passes `Graph -> Graph`, each named and switchable."""
