"""Frozen pydantic specs: models (model.py), hardware (hardware.py), workloads (workload.py)."""
