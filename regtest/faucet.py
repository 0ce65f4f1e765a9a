"""Pay a wallet from the local stack's regtest faucets (``etm-bridge stack faucet``).

Given the wallet's public view (no passphrase), :func:`fund_wallet` pays its three addresses
from the running stack described by ``stack.json``: Bitcoin from the node's faucet wallet
(:meth:`.bitcoin.BitcoinNode.fund`, then one block mined to confirm), ether from anvil's last
prefunded development key, ETM by a transfer from the genesis-funded development account
``dev_key("user-9")`` (not ``user-0``, the stack's Ethereum relayer, so a faucet payment never
races the relayer's nonce), sent to every ETM node of the stack (one node down changes
nothing), HNS (only when asked: ``--hns``) from hsd's faucet wallet, one block mined. Refuses a
stack that is not regtest / anvil's dev chain, and says how to start the
stack when it is not running. Development only: every faucet key is public.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from etm_bridge.chain.address import decode_address
from etm_bridge.chain.keys import dev_key
from etm_bridge.chain.tx_transfer import TRANSFER, TransferPayload
from etm_bridge.errors import EtmBridgeError, StackError
from etm_bridge.etm_client.endpoints import NodeSet
from etm_bridge.etm_client.submit import sign_and_submit
from etm_bridge.wallet import WalletPublic

from .anvil import CHAIN_ID, AnvilNode
from .bitcoin import BitcoinNode
from .stack import StackConfig, load_state, not_answering, status
from .stack_relays import hsd_node

ETM_FAUCET = "user-9"
ETM_FEE = 100_000


@dataclass(frozen=True)
class Faucet:
    """One faucet of the stack: ``stack faucet --<asset> AMOUNT`` pays that much of ``asset``."""

    asset: str  # the option's name, the amount's unit and the key of what was paid
    default: str  # the decimal amount paid when the option is not given ("0": none)
    help: str


#: The stack's faucets, in the order ``stack faucet`` pays them.
FAUCETS = (
    Faucet("btc", "0.1", "BTC to pay (0: none)."),
    Faucet("eth", "1", "ETH to pay (0: none)."),
    Faucet("etm", "1000", "ETM to pay (0: none)."),
    Faucet("hns", "0", "HNS to pay (0: none; the stack's hsd must run)."),
)


def _running_stack(config: StackConfig) -> dict[str, dict[str, Any]]:
    """stack.json of a regtest stack whose nodes answer; StackError saying what to do if not."""
    if not load_state(config):
        raise StackError(f"no local stack in {config.state_dir}: run `etm-bridge stack up` first")
    report = status(config)
    down = not_answering(report)
    if down:
        raise StackError(
            f"the local stack in {config.state_dir} is not answering ({', '.join(down)}): "
            "run `etm-bridge stack up`"
        )
    network = report["bitcoin"].get("network")
    chain_id = report["anvil"].get("chain_id")
    if network != "regtest" or chain_id != CHAIN_ID:
        raise StackError(
            f"refusing to pay from a non-development stack (bitcoin network {network!r}, "
            f"anvil chain id {chain_id!r}): the faucet is for regtest only"
        )
    return report


def fund_wallet(
    config: StackConfig, public: WalletPublic, *, btc_sat: int, eth_wei: int, etm_units: int,
    hns_doo: int = 0,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Pay the wallet's BTC, ETH, ETM and HNS addresses (0 skips a chain); chain -> what was
    paid."""
    for name, value in (("btc_sat", btc_sat), ("eth_wei", eth_wei), ("etm_units", etm_units),
                        ("hns_doo", hns_doo)):  # fmt: skip
        if value < 0:
            raise StackError(f"{name} must not be negative, got {value}")
    stack = _running_stack(config)
    hsd = hsd_node(stack.get("hsd") or {}) if hns_doo else None
    if hns_doo and hsd is None:
        raise StackError(f"the stack in {config.state_dir} runs no hsd: no HNS faucet "
                         "(`etm-bridge stack up` says why)")  # fmt: skip
    paid: dict[str, dict[str, Any]] = {}
    try:
        if btc_sat:
            paid["btc"] = _pay_btc(stack["bitcoin"], public.btc.address("regtest"), btc_sat)
        if eth_wei:
            paid["eth"] = _pay_eth(stack["anvil"], public.eth.address, eth_wei)
        if etm_units:
            paid["etm"] = _pay_etm(stack["etm"], public.etm.address, etm_units)
        if hsd is not None:
            address = public.hns.address("regtest")
            txid = hsd.fund(address, hns_doo)  # mines one block to confirm
            paid["hns"] = {"address": address, "amount": hns_doo, "txid": txid}
    except EtmBridgeError:
        raise
    except (OSError, ValueError) as exc:  # a node's own error: one line naming what failed
        raise StackError(f"faucet payment failed (paid so far: {sorted(paid)}): {exc}") from exc
    finally:
        if hsd is not None:
            hsd.close()
    return paid


def fund(
    config: StackConfig, public: WalletPublic, amounts: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Pay the wallet ``amounts`` (asset of a :data:`FAUCETS` entry -> base units; 0 or absent
    skips it); asset -> what was paid."""
    unknown = sorted(set(amounts) - {f.asset for f in FAUCETS})
    if unknown:
        raise StackError(f"the stack has no faucet for {', '.join(unknown)}")
    return fund_wallet(config, public, btc_sat=amounts.get("btc", 0),
                       eth_wei=amounts.get("eth", 0), etm_units=amounts.get("etm", 0),
                       hns_doo=amounts.get("hns", 0))  # fmt: skip


def _pay_btc(info: Mapping[str, Any], address: str, amount_sat: int) -> dict[str, Any]:
    node = BitcoinNode(rpc_url=info["rpc_url"], rpc_user=info["rpc_user"],
                       rpc_password=info["rpc_password"], kind=info["kind"],
                       faucet=info.get("faucet_address"))  # fmt: skip
    txid = node.fund(address, amount_sat)  # mines one block to confirm
    return {"address": address, "amount": amount_sat, "txid": txid, "height": node.height()}


def _pay_eth(info: Mapping[str, Any], address: str, amount_wei: int) -> dict[str, Any]:
    node = AnvilNode(rpc_url=info["rpc_url"], chain_id=int(info["chain_id"]))
    receipt = node.send_transaction(info["private_keys"][-1], address, value_wei=amount_wei)
    return {"address": address, "amount": amount_wei, "txid": str(receipt["transactionHash"])}


def _pay_etm(info: Mapping[str, Any], address: str, amount: int) -> dict[str, Any]:
    """Through every ETM node of the stack (a NodeSet: sent to all, read from the trusted)."""
    client = NodeSet.from_urls([str(u) for u in info.get("urls") or [info["rpc_url"]]])
    payload = TransferPayload(decode_address(address), amount).encode()
    result = sign_and_submit(client, dev_key(ETM_FAUCET), TRANSFER, payload, fee=ETM_FEE)
    if result.get("status") != "confirmed":
        raise StackError(f"ETM faucet transfer not confirmed: {result}")
    return {"address": address, "amount": amount, "txid": result["id"]}
