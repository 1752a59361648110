"""Compatibility path for the public `costmodel.sweep.sweep` used in the README and tutorial;
the sweep lives in costmodel.analysis.sweep."""

from costmodel.analysis.sweep import sweep

__all__ = ["sweep"]
