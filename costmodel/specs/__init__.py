"""Frozen pydantic specs: models (model.py, vision.py, mllama.py, moe.py), hardware
(hardware.py), inference engines (engine.py), workloads (workload.py) and their token
compression (compression.py, compression_methods.py); base.py: what they share."""
