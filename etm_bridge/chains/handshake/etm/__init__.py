"""Handshake ETM-side consensus code: relay types 121/122, genesis part, exchange verifier."""
