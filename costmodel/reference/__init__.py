"""Validation against real runs: a torch reference model, FLOP/parameter/KV cross-checks and
timing. Needs the optional extra `pip install "costmodel[validate]"`; the core never imports
this package."""
