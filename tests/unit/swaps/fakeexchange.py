"""An in-memory ETM exchange for watcher tests: relay, proof check, pool counter-lock.

It plays the part of the ETM exchange contract's swap-in over fake chains (the real one is an
ETM transaction type; see etm_bridge.exchange.swap_rules): headers are relayed from height 1
onward and must link; a proof must verify against the relayed header at its height
(etm_bridge.testing.proofs), have the required confirmations on the relay and match the terms
(etm_bridge.adapter.lock_mismatches); then the pool locks ETM to the user on the ETM fake chain
for ``counter_blocks`` blocks. A bad proof becomes a REJECTED proof status with its reason.
"""

from __future__ import annotations

from etm_bridge.adapter import HtlcLock, HtlcTerms, InclusionProof, lock_mismatches
from etm_bridge.errors import ProofError
from etm_bridge.swaps.core.model import SwapRecord
from etm_bridge.swaps.core.views import ProofStatus, ProofView
from etm_bridge.testing.fake import FakeAdapter
from etm_bridge.testing.proofs import verify_inclusion_proof


class FakeExchange:
    def __init__(self, pool_etm: FakeAdapter, foreign: dict[str, FakeAdapter], counter_blocks=20):
        self.pool_etm, self.counter_blocks = pool_etm, counter_blocks
        self.headers = {chain: a.headers(0, 1) for chain, a in foreign.items()}
        self.status: dict[bytes, tuple[ProofStatus, str]] = {}
        self.relay_calls = 0
        self.proofs_submitted = 0

    def relay_tip(self, chain: str) -> int:
        return len(self.headers[chain]) - 1

    def relay_header_at(self, chain: str, height: int) -> bytes | None:
        known = self.headers[chain]
        return known[height] if 0 <= height < len(known) else None

    def relay_headers(self, chain: str, start_height: int, headers: list[bytes]) -> int:
        """Append, or replace a shorter branch above ``start_height`` (longest chain wins)."""
        self.relay_calls += 1
        known = self.headers[chain]
        if not 1 <= start_height <= len(known):
            raise ProofError(
                f"headers must link to the relay (1..{len(known)}), got {start_height}"
            )
        if start_height + len(headers) > len(known):
            del known[start_height:]
            known.extend(headers)
        return self.relay_tip(chain)

    def proof_view(self, rec: SwapRecord, relay_tip: int) -> ProofView:
        status, reason = self.status.get(rec.terms.hashlock, (ProofStatus.NONE, ""))
        return ProofView(relay_tip, status, reason)

    def submit_proof(self, rec: SwapRecord, lock: HtlcLock, proof: InclusionProof) -> str:
        self.proofs_submitted += 1
        t = rec.terms
        if t.hashlock in self.status:
            raise ProofError("proof already judged (replay)")
        chain = t.user_leg.chain
        verify_inclusion_proof(proof)
        if self.headers[chain][proof.block_height : proof.block_height + 1] != [proof.header]:
            raise ProofError(f"header at {proof.block_height} is not the relayed one")
        relay_tip = self.relay_tip(chain)
        problems = lock_mismatches(
            lock,
            t.user_leg.htlc_terms(t.hashlock),
            chain=lock.chain,
            min_confirmations=t.user_leg.confirmations,
            now_height=relay_tip,
        )
        if problems:
            self.status[t.hashlock] = (ProofStatus.REJECTED, problems[0][0].value)
            return "rejected"
        counter = HtlcTerms(
            amount=t.counter_leg.amount,
            hashlock=t.hashlock,
            claim_key=t.counter_leg.claim_key,
            refund_key=self.pool_etm.our_key(),
            timelock_height=self.pool_etm.tip().height + self.counter_blocks,
        )
        locked = self.pool_etm.lock(counter)
        self.status[t.hashlock] = (ProofStatus.ACCEPTED, "")
        return locked.txid
