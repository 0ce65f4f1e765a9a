"""SPV: the generic, pure plumbing of the foreign chains' header relays on the ETM chain.

Each chain's own SPV rules (header parsing, proof of work, inclusion proofs) live in its folder,
``etm_bridge/chains/<name>/spv/``; this package holds what every relay shares: the relays as ETM
transaction types (:mod:`.relay_types`), the genesis ``spv`` section (:mod:`.genesis_section`),
the relays' status (:mod:`.relay_status`), what a relay requires of a proof
(:mod:`.relay_policy`), the one fork-point function (:mod:`.fork_point`), the key-value stores
the relays keep their trees in (:mod:`.kvstore`, :mod:`.state_stores`) and the whitepaper's
section 3.1 attacker catch-up probability (:mod:`.confirmation_risk`).

Nothing in this package performs I/O; storage is injected through
:class:`.kvstore.KeyValueStore`.
"""
