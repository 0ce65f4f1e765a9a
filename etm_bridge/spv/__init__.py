"""SPV: pure verification of other chains inside the ETM chain.

Bitcoin: header parsing and proof-of-work rules (:mod:`.bitcoin_headers`, parameters in
:mod:`.bitcoin_params`), a header-tree relay over a small key-value store (:mod:`.relay`),
Merkle inclusion proofs and ``gettxoutproof`` parsing (:mod:`.merkle`, transactions in
:mod:`.bitcoin_tx`). Ethereum: header continuity and receipt proofs (:mod:`.ethereum`).
Risk: the whitepaper's section 3.1 attacker catch-up probability (:mod:`.risk`).

Nothing in this package performs I/O; storage is injected through :class:`.relay.KeyValueStore`.
"""
