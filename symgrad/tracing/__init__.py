"""Tracing: run a function on symbolic values and record the ops it applies as a graph."""
