"""Conformance testing: run scenarios on an AIO implementation and let the spec judge them.

``adapters`` run an implementation, ``observation`` maps its results to the spec's vocabulary,
``verdict`` judges them (profiles, explanations, cancel honesty), ``runner`` and ``report`` drive
it; see docs/conformance.md.
"""
