"""Automatic differentiation on graphs: reverse mode, and batched cotangents for Jacobians."""
