"""Handshake SPV: headers, PoW, difficulty, the header relay, Merkle proofs (pure)."""
