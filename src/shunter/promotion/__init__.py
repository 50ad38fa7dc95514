"""The promotion engine: runs a Promotion's steps, one after another, resumably.

Steps see only :mod:`shunter.promotion.step` (the runner protocol and its context/result
types) and register themselves in :mod:`shunter.promotion.registry`.
"""
