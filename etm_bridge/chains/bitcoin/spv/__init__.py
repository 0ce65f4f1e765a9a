"""Bitcoin SPV, pure: header rules and parameters, transactions, Merkle proofs, the header relay."""
