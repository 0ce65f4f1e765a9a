"""Shared setup of the Bitcoin custody tests on a real ETM node (not a test module).

One ``etm-bridge node run`` process on a custody chain (``plugins.custody`` for ``btc``),
reading its committed state from its database, submitting signed transactions through its API,
registering the genesis delegates as custody members (tx 300 with proofs of possession through
the Bitcoin binding scheme) so the round hook forms the first committee, and paying a script on
the session's regtest node. Used by ``test_btc_fraud_node.py`` and ``test_btc_lp_vault.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from bitcoin.core import CTransaction
from bitcoin.segwit_addr import encode as bech32_encode
from etm_bridge_regtest import procs
from etm_bridge_regtest.bitcoin import BitcoinNode
from etm_bridge_regtest.etm_process import EtmNodeProcess, etm_node_running

from etm_bridge.chain.address import address_hash, encode_address
from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.chain.state import State, StateView
from etm_bridge.chain.tx import Tx
from etm_bridge.chains.bitcoin.binding import btc_pubkey_of, sign_btc
from etm_bridge.chains.bitcoin.custody import ecdsa
from etm_bridge.chains.bitcoin.custody.spec import SPEC, BtcCustodyConfig
from etm_bridge.chains.registry import chain_registry
from etm_bridge.custody import plans
from etm_bridge.custody import records as cr
from etm_bridge.custody import registration as rg
from etm_bridge.custody.spec import VaultInfo
from etm_bridge.custody.txtypes import REGISTER
from etm_bridge.errors import TxRejectedError
from etm_bridge.exchange import binding as bd
from etm_bridge.exchange import payloads as pl
from etm_bridge.exchange import txtypes as tt
from etm_bridge.node.config import CHAIN_DB
from etm_bridge.node.setup import init_node
from etm_bridge.spv.genesis_section import SpvSection
from etm_bridge.store import ChainStore

HERE = Path(__file__).parent
DOMAIN = bytes.fromhex("c7" * 32)
BOND_IN = 10**9  # tx 300's bond
FEE = 100_000


def secret(i: int) -> bytes:
    """Member i's custody secret (the test holds every member's key)."""
    return bytes([0x50 + i]) * 32


@contextmanager
def state_of(node: EtmNodeProcess) -> Iterator[StateView]:
    """The running node's committed state, read from its database."""
    store = ChainStore.open(node.data_dir / CHAIN_DB)
    try:
        yield State(store, ())
    finally:
        store.close()


def until(node: EtmNodeProcess, what: str, ok: Callable[[StateView], bool]) -> None:
    def check() -> bool:
        with state_of(node) as view:
            return ok(view)

    alive = lambda: node.proc is not None and node.proc.poll() is None  # noqa: E731
    procs.wait_until(check, timeout_s=60, what=what, alive=alive, interval_s=0.2)


class Sender:
    """Signs and submits ETM transactions, one nonce counter per key."""

    def __init__(self, node: EtmNodeProcess) -> None:
        assert node.client is not None
        self.client = node.client
        self.network = int(self.client.status()["networkId"])
        self.nonces: dict[bytes, int] = {}

    def send(self, key: SigningKey, type_id: int, payload: bytes, fee: int = FEE) -> str:
        nonce = self.nonces.get(key.public_key, 0)
        tx = Tx.create(key, network=self.network, type_id=type_id, nonce=nonce, fee=fee,
                       payload=payload)  # fmt: skip
        reply = self.client.submit_tx(tx.encoded)  # raises TxRejectedError: nonce unused
        self.nonces[key.public_key] = nonce + 1
        return str(reply["id"])

    def settled(self, view: StateView, key: SigningKey) -> bool:
        """Every tx this sender submitted for ``key`` is in a block."""
        return view.account(address_hash(key.public_key)).nonce == self.nonces[key.public_key]

    def refused(self, key: SigningKey, type_id: int, payload: bytes, fee: int = FEE) -> Any:
        with pytest.raises(TxRejectedError) as err:
            self.send(key, type_id, payload, fee)
        return err.value


def register(s: Sender, i: int) -> bytes:
    """Delegate i registers its Bitcoin key (proof of possession through the Bitcoin binding
    scheme) with BOND_IN; returns the key."""
    delegate, agent = dev_key(f"delegate-{i}"), dev_key(f"custody agent {i}")
    binding = chain_registry().by_ticker("btc").binding
    key = ecdsa.pubkey(secret(i))
    msg = rg.pop_message(s.network, DOMAIN, delegate.public_key, agent.public_key, {"btc": key})
    signed_key, pop = binding.sign(msg, secret(i))
    assert signed_key == key
    reg = rg.Register(agent.public_key, agent.sign(rg.agent_pop_digest(msg)), BOND_IN,
                      {"btc": key}, {"btc": pop})  # fmt: skip
    s.send(delegate, REGISTER, reg.encode())
    return key


def register_all(node: EtmNodeProcess, s: Sender, count: int = 4) -> dict[bytes, bytes]:
    """Fund delegates 0..count-1 and register them (forging paused while they are submitted,
    so no round close sees only some of them); delegate -> custody key."""
    funder = dev_key("user-0")
    delegates = [dev_key(f"delegate-{i}") for i in range(count)]
    from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload

    for d in delegates:  # fees and bonds
        s.send(funder, TRANSFER, TransferPayload(address_hash(d.public_key), 10**10).encode())
    until(node, "delegates funded", lambda v: s.settled(v, funder))
    s.client.set_forging(False)
    keys = {d.public_key: register(s, i) for i, d in enumerate(delegates)}
    s.client.set_forging(True)
    until(node, "members registered", lambda v: all(
        plans.get_member(v, d.public_key) is not None for d in delegates))  # fmt: skip
    return keys


def committee(view: StateView) -> cr.Committee:
    epoch = plans.current_epoch(view)
    assert epoch is not None
    return cr.decode(cr.Committee, view.get_json(cr.EPOCHS, cr.epoch_key(epoch)))


def fund(node: BitcoinNode, spk: bytes, amount: int) -> bytes:
    """Pay ``amount`` to ``spk`` from the node's wallet; the output's outpoint."""
    txid = node.fund(bech32_encode("bcrt", 0, spk[2:]), amount)
    tx = CTransaction.deserialize(bytes.fromhex(node.rpc.call("getrawtransaction", txid, 0)))
    vout = next(k for k, o in enumerate(tx.vout) if bytes(o.scriptPubKey) == spk)
    return bytes.fromhex(txid)[::-1] + vout.to_bytes(4, "little")


@contextmanager
def custody_chain(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    section: dict[str, Any],
    plugins: tuple[str, ...],
    spv: SpvSection | None = None,
) -> Iterator[tuple[EtmNodeProcess, Sender]]:
    """A custody chain (5 delegates, 1 s blocks) whose process can import this folder's test
    plug-ins (``PYTHONPATH``)."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(HERE) + (os.pathsep + path if path else ""))
    init_node(home, delegates=5, block_time_s=1, funded_accounts=2, port=0, tx_plugins=plugins,
              spv=spv)  # fmt: skip
    genesis_path = home / "genesis.json"
    genesis = json.loads(genesis_path.read_text())
    genesis.setdefault("plugins", {})["custody"] = section
    genesis_path.write_text(json.dumps(genesis, indent=2) + "\n")
    with etm_node_running(home) as node:
        yield node, Sender(node)


CFG = BtcCustodyConfig("regtest")


def seat_committee(
    node: EtmNodeProcess, s: Sender
) -> tuple[cr.Committee, VaultInfo, dict[bytes, bytes]]:
    """Register the four members (300), wait for the first committee: it, its Bitcoin vault and
    each member's custody key -> secret (the test signs for the members)."""
    keys = register_all(node, s)
    until(node, "the first committee", lambda v: plans.current_epoch(v) is not None)
    with state_of(node) as view:
        c0 = committee(view)
    return c0, SPEC.vault(c0, CFG), {k: secret(i) for i, k in enumerate(keys.values())}


def bind_btc(s: Sender, who: SigningKey, btc_secret: bytes) -> bytes:
    """``who`` binds the Bitcoin key of ``btc_secret`` (tx BIND, valid 500 blocks); the key."""
    height = int(s.client.status()["height"])
    me = encode_address(address_hash(who.public_key))
    msg = bd.binding_message(f"{s.network:#010x}", me, "btc", 1, height + 500)
    bind = pl.Bind("btc", btc_pubkey_of(btc_secret), 1, height + 500, sign_btc(msg, btc_secret),
                   False)  # fmt: skip
    s.send(who, tt.BIND, pl.encode_payload(bind))
    return bind.key
