"""Value exchange on ETM (whitepaper 6.2): pools, LP shares, native HTLC, binding, swap rules.

Pure rules only (no I/O): :mod:`.pool` (constant-product pricing, shares, reservations),
:mod:`.obligations` (SPV-credited deposits, external withdrawals the operator owes),
:mod:`.htlc` (native ETM HTLC), :mod:`.binding` (ETM <-> foreign key binding proofs),
:mod:`.swap_rules` (contract-side checks of both swap directions); :mod:`.txtypes` applies
them as ETM transaction types through the planners of :mod:`.plans` and :mod:`.swap_plans`;
:mod:`.views` reads them back. Each foreign chain's proofs are verified by its profile's
verifier (``etm_bridge/chains/<name>/etm/verifier.py``, found through the chain registry).
Every rejection raises a subclass of :class:`~etm_bridge.errors.ExchangeError` whose
``reason`` is a :class:`~etm_bridge.exchange.reasons.Reason`.
"""
