"""Counting conventions other than costmodel's own (see docs/methodology.md)."""
