"""The custody signer's side of a delegate node (design-14 section 5): so far only the Ethereum
header attester (:mod:`.attester`); the signer loop proper will live beside it."""
