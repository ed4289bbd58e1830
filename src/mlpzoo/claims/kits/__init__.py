"""Experiment kits shared by several claims (CTR fits, image fits, graph fits).

A claim never imports another claim's helpers: what two claims share lives here.
"""
