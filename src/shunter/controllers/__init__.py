"""Reconcile logic per kind. No kopf here: the operator package wires these to events.

Pure decision functions (policies, availability, naming, conditions) live in their own
modules so they can be tested without a cluster.
"""
