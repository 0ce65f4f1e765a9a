"""Test kit for chain adapters: the in-memory fake chain/adapter and the conformance suite.

Shipped in the core (not under tests/) so third-party adapters can subclass
:class:`~etm_bridge.testing.conformance.AdapterConformance` from an installed etm-bridge.
"""
