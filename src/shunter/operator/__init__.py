"""The operator process: the composition root, the watch wiring and the work queues.

Informers (:mod:`shunter.cache`) keep a watch-fed cache of every kind the controllers read;
each change queues the reconciles it calls for (:mod:`shunter.operator.triggers`), and the
controllers in :mod:`shunter.controllers` reconcile from the cache (level-triggered), so a
restart or a missed event never leaves work behind.
"""
