"""Issue 14's attack on the Ethereum relay, performed through the real transaction types
(111 headers, 112 receipt proof, 113 attestation) on a state with a 3-of-4 custody committee.

The attacker builds a child of the relay's tip with every continuity rule right and a
``receiptsRoot`` of a trie holding a fake EtherSwapHTLC ``Locked`` receipt (10 ETH to a claim
address it names). On a legacy relay (``unsafe_trusted_relayers``) the development relayer key
makes it count: the proof is **accepted** (so this test fails if the new rule ever leaks into
legacy chains, or the paired refusal below stops being the reason). On a committee relay the
same forgery, relayed and attested by one rogue member, is refused ``spv_not_in_best_chain``;
an honest block attested by m members is proven (control)."""

from __future__ import annotations

import pytest
import rlp
from spv_testkit import GENESIS, anvil_chain

from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.params import ETM_EPOCH_UNIX, ChainParams
from etm_bridge.chain.registry import Registry, TxContext, build_registry
from etm_bridge.chain.state import EmptyBackend, State
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.ethereum.etm import relay_types as rt
from etm_bridge.chains.ethereum.etm.genesis import EthRelayGenesis
from etm_bridge.chains.ethereum.spv import headers as eth
from etm_bridge.chains.ethereum.spv.rlp import build_receipt_proof
from etm_bridge.custody import records as cr
from etm_bridge.errors import TxRejectedError, ValidationError
from etm_bridge.spv.genesis_section import SpvSection

pytestmark = pytest.mark.unit

T0 = 1_767_300_000
HTLC = b"\x42" * 20
RELAYER = dev_key("user-0")  # node init's default relayer: the public development key
MEMBERS = [dev_key(f"member-{i}") for i in range(4)]
AGENTS = [dev_key(f"agent-{i}") for i in range(4)]
ROGUE = 3
STRANGER = dev_key("stranger")
PLUGINS = ("etm_bridge.custody.txtypes", "etm_bridge.spv.relay_types")


def fake_locked_receipt(claim: bytes, amount: int, hashlock: bytes) -> bytes:
    """A successful type-2 receipt whose one log is an EtherSwapHTLC ``Locked`` event."""
    topics = [eth.LOCKED_EVENT.topic0, hashlock, b"\x5a" * 32, bytes(12) + claim]
    data = (
        amount.to_bytes(32, "big")
        + bytes(32)
        + bytes(12)
        + b"\xee" * 20
        + (10**9).to_bytes(32, "big")
    )
    return b"\x02" + rlp.encode([1, 21_000, bytes(256), [[HTLC, topics, data]]])


def _world(committee: bool) -> tuple[Registry, State, TxContext]:
    params = ChainParams(tx_plugins=PLUGINS)
    registry = build_registry(params)
    state = State(EmptyBackend(), registry.table_names)
    relay = EthRelayGenesis(
        chain="anvil", checkpoint_rlp=GENESIS, htlc_contract=HTLC,
        relayers=() if committee else (RELAYER.public_key,),
        attestation="committee" if committee else None,
    )  # fmt: skip
    SpvSection({"eth": relay}).initialise(state)
    members = tuple(sorted(k.public_key for k in MEMBERS))
    record = cr.Committee(0, members, 3, 4, {}, 0, "genesis")
    state.put_json(cr.EPOCHS, cr.epoch_key(0), cr.encode(record))
    state.put(cr.CURRENT, b"epoch", cr.epoch_key(0))
    for member, agent in zip(MEMBERS, AGENTS, strict=True):  # as registration writes them
        state.put(cr.AGENTS, agent.public_key, member.public_key)
        record = cr.Member(member.public_key, agent.public_key, {}, 0)
        state.put_json(cr.MEMBERS, member.public_key, cr.encode(record))
    return registry, state, TxContext(params, 10, T0 + 3600 - ETM_EPOCH_UNIX, bytes(32))


def _run(world: tuple[Registry, State, TxContext], type_id: int, payload: bytes, key: SigningKey):
    registry, state, ctx = world
    tx = Tx.create(key, network=ctx.params.network_id, type_id=type_id, nonce=0, fee=0,
                   payload=payload)  # fmt: skip
    tx_type = registry.type_of(type_id)
    decoded = tx_type.decode(payload)
    tx_type.check(state, tx, decoded, ctx)
    tx_type.apply(state, tx, decoded, ctx)


def _forged_block(claim: bytes) -> tuple[bytes, bytes, tuple[bytes, ...]]:
    """(header RLP, block hash, proof nodes of receipt 0): a child of the checkpoint."""
    receipt = fake_locked_receipt(claim, 10 * 10**18, b"\x11" * 32)
    root, nodes = build_receipt_proof([receipt], 0)
    [header] = anvil_chain(GENESIS, 1, 1_500, receipts_root=root)
    return header, eth.parse_header(header, eth.ANVIL).hash, nodes


def _proof(block_hash: bytes, nodes: tuple[bytes, ...]) -> bytes:
    return rt.EthReceiptProof(block_hash, 0, nodes).encode()


def _attest(number: int, block_hash: bytes) -> bytes:
    return rt.EthAttestation(number, block_hash).encode()


def test_legacy_relay_accepts_a_forged_lock_from_the_dev_relayer_key() -> None:
    world = _world(committee=False)
    header, block_hash, nodes = _forged_block(claim=b"\xcc" * 20)
    _run(world, rt.ETH_RELAY_HEADERS, rlp.encode([header]), RELAYER)
    _run(world, rt.ETH_RECEIPT_PROOF, _proof(block_hash, nodes), STRANGER)  # accepted
    record = rt.proven_eth_receipt(world[1], block_hash, 0)
    [log] = record["logs"]
    assert record["status"] == 1 and log[0] == HTLC.hex()
    assert log[1][0] == eth.LOCKED_EVENT.topic0.hex() and log[1][3].endswith("cc" * 20)
    with pytest.raises(TxRejectedError) as info:  # and the legacy relay takes no attestation
        _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), MEMBERS[0])
    assert info.value.reason == "spv_not_committee_mode"


def test_committee_relay_refuses_the_forgery_even_attested_by_one_rogue_member() -> None:
    world = _world(committee=True)
    header, block_hash, nodes = _forged_block(claim=b"\xcc" * 20)
    _run(world, rt.ETH_RELAY_HEADERS, rlp.encode([header]), AGENTS[ROGUE])  # stored
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), AGENTS[ROGUE])  # accepted
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), MEMBERS[ROGUE])  # same member
    status = rt.status(world[1])
    assert status is not None and status["mode"] == "committee"
    assert status["tip"]["number"] == 0 and status["relayed_tip"]["number"] == 1
    assert list(status["attestations"]) == [MEMBERS[ROGUE].public_key.hex()]
    with pytest.raises(TxRejectedError) as info:
        _run(world, rt.ETH_RECEIPT_PROOF, _proof(block_hash, nodes), STRANGER)
    assert info.value.reason == "spv_not_in_best_chain"
    with pytest.raises(TxRejectedError) as info:
        rt.proven_eth_receipt(world[1], block_hash, 0)
    assert info.value.reason == "spv_receipt_not_proven"
    # a second rogue is still not m (3 of 4)
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), MEMBERS[0])
    with pytest.raises(TxRejectedError, match="spv_not_in_best_chain"):
        _run(world, rt.ETH_RECEIPT_PROOF, _proof(block_hash, nodes), STRANGER)


def test_committee_relay_proves_a_block_m_members_attest(vectors) -> None:
    """Control: an honest block (a real mainnet receipts root and proof) counts at m = 3."""
    world = _world(committee=True)
    block = vectors.json("ethereum/mainnet_block_21925176_receipts.json")
    root = bytes.fromhex(block["receipts_root"][2:])
    [header] = anvil_chain(GENESIS, 1, 1_100, receipts_root=root)
    block_hash = eth.parse_header(header, eth.ANVIL).hash
    proof = block["proofs"][1]
    nodes = tuple(bytes.fromhex(n[2:]) for n in proof["proof"])
    payload = rt.EthReceiptProof(block_hash, proof["index"], nodes).encode()
    _run(world, rt.ETH_RELAY_HEADERS, rlp.encode([header]), STRANGER)
    for i in (0, 1):
        _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), AGENTS[i])
        with pytest.raises(TxRejectedError, match="spv_not_in_best_chain"):
            _run(world, rt.ETH_RECEIPT_PROOF, payload, STRANGER)
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), MEMBERS[2])
    _run(world, rt.ETH_RECEIPT_PROOF, payload, STRANGER)
    record = rt.proven_eth_receipt(world[1], block_hash, proof["index"])
    assert record["status"] == 1 and record["confirmations"] == 1


def test_attestations_from_outside_the_committee_and_malformed_ones_are_refused() -> None:
    world = _world(committee=True)
    header, block_hash, _ = _forged_block(claim=b"\xcc" * 20)
    _run(world, rt.ETH_RELAY_HEADERS, rlp.encode([header]), STRANGER)
    with pytest.raises(TxRejectedError) as info:
        _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), STRANGER)
    assert info.value.reason == "not_committee_member"
    with pytest.raises(TxRejectedError, match="spv_unknown_block"):
        _run(world, rt.ETH_ATTEST_HEADERS, _attest(2, b"\x01" * 32), MEMBERS[0])
    with pytest.raises(TxRejectedError, match="spv_bad_number"):
        _run(world, rt.ETH_ATTEST_HEADERS, _attest(2, block_hash), MEMBERS[0])
    decode = world[0].type_of(rt.ETH_ATTEST_HEADERS).decode
    for bad in (
        rlp.encode([1]),
        rlp.encode([1, b"\x01" * 31]),
        rlp.encode([b"\x00\x01", b"\x01" * 32]),  # non-canonical number
        rlp.encode([2**64, b"\x01" * 32]),
        rlp.encode([1, b"\x01" * 32, b""]),
        rlp.encode([[b"\x01"], b"\x01" * 32]),
        b"\xff",
    ):
        with pytest.raises(ValidationError):
            decode(bad)
    assert decode(rlp.encode([0, block_hash])) == rt.EthAttestation(0, block_hash)


def test_without_a_committee_attestations_are_refused_custody_inactive() -> None:
    world = _world(committee=True)
    world[1].delete(cr.CURRENT, b"epoch")
    with pytest.raises(TxRejectedError) as info:
        _run(world, rt.ETH_ATTEST_HEADERS, _attest(0, rt.eth_relay_of(world[1]).tip().hash),
             MEMBERS[0])  # fmt: skip
    assert info.value.reason == "custody_inactive"


def test_a_slashed_members_attestation_is_refused() -> None:
    world = _world(committee=True)
    rogue = MEMBERS[ROGUE].public_key
    member = cr.Member(rogue, AGENTS[ROGUE].public_key, {}, 0, slashed=True)
    world[1].put_json(cr.MEMBERS, rogue, cr.encode(member))
    tip = rt.eth_relay_of(world[1]).tip().hash
    for key in (MEMBERS[ROGUE], AGENTS[ROGUE]):
        with pytest.raises(TxRejectedError, match="not_committee_member"):
            _run(world, rt.ETH_ATTEST_HEADERS, _attest(0, tip), key)
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(0, tip), MEMBERS[0])  # the others still may


def test_an_agent_its_member_replaced_no_longer_attests_for_it() -> None:
    """``custody_agents`` is permanent, so an agent a member re-registered away from (its key
    leaked, say) still names the member there. Before the fix that old key kept attesting for
    the member: the rogue member plus the leaked old agents of two honest members made the
    forged header count at m = 3 and its fake lock was proven. Now the old agent is refused
    ``not_committee_member`` and the forgery stays out of the best chain."""
    world = _world(committee=True)
    state = world[1]
    for i in (0, 1):  # honest members 0 and 1 rotate to new agents; the old keys leaked
        new_agent = dev_key(f"agent-new-{i}").public_key
        record = cr.Member(MEMBERS[i].public_key, new_agent, {}, 0)
        state.put_json(cr.MEMBERS, MEMBERS[i].public_key, cr.encode(record))
        state.put(cr.AGENTS, new_agent, MEMBERS[i].public_key)
    header, block_hash, nodes = _forged_block(claim=b"\xcc" * 20)
    _run(world, rt.ETH_RELAY_HEADERS, rlp.encode([header]), AGENTS[ROGUE])
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), AGENTS[ROGUE])
    for i in (0, 1):
        with pytest.raises(TxRejectedError) as info:
            _run(world, rt.ETH_ATTEST_HEADERS, _attest(1, block_hash), AGENTS[i])
        assert info.value.reason == "not_committee_member"
    assert list(rt.status(state)["attestations"]) == [MEMBERS[ROGUE].public_key.hex()]
    with pytest.raises(TxRejectedError, match="spv_not_in_best_chain"):
        _run(world, rt.ETH_RECEIPT_PROOF, _proof(block_hash, nodes), STRANGER)
    # the current agent still speaks for its member (control)
    _run(world, rt.ETH_ATTEST_HEADERS, _attest(0, rt.eth_relay_of(state).tip().hash),
         dev_key("agent-new-0"))  # fmt: skip
    assert MEMBERS[0].public_key.hex() in rt.status(state)["attestations"]
