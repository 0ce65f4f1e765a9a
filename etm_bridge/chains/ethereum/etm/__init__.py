"""Ethereum on the ETM chain: its relay transaction types, genesis part and exchange proofs."""
