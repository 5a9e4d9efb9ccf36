"""Rows of the primitive table, one module per family (see semantics/primitives.py)."""
