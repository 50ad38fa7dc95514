"""The operator process: the composition root, and the only package that imports kopf.

kopf watches our kinds and feeds keys into per-kind work queues; the controllers in
:mod:`shunter.controllers` reconcile from the current state (level-triggered), so a restart or a
missed event never leaves work behind.
"""
