"""Ethereum SPV, pure: RLP, header continuity, receipt proofs, the trusted-relayer header relay."""
