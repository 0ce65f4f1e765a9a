"""``stack up``'s last step: are the restarted nodes still the chains the ETM node follows?

The stack restarts whole only if every node reloads its own chain: the Bitcoin node its datadir,
anvil its saved state (``--state``, see :mod:`.anvil`), the ETM node its database, whose genesis
names anvil's EtherSwapHTLC and PoolVault and whose relays hold headers of the other two. A node
whose chain was lost or replaced (anvil killed before it saved, a damaged or deleted state file, a
deleted datadir, a Bitcoin backend switched between bcoin and bitcoind) would make every later
step fail far from the cause ("the code at 0x... is not the PoolVault artifact's"), so ``up``
checks, with the nodes' own RPCs:

* the Bitcoin node knows the block at the tip of the ETM node's Bitcoin relay;
* anvil has the block at the tip of the ETM node's Ethereum relay;
* anvil holds code at the HTLC and PoolVault addresses the ETM genesis names;
* hsd (when the stack runs it) knows the block at the tip of the ETM node's Handshake relay;
* on a network of ETM nodes, each node is checked so, and every node follows the same genesis.

Any miss is one :class:`StackMismatchError` line naming what is missing and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from etm_bridge.errors import NodeUnavailableError, RPCError, StackError
from etm_bridge.jsonrpc import JsonRpcClient
from etm_bridge.node.client import NodeClient

from .service import reset_hint


class StackMismatchError(StackError):
    """A restarted node does not hold the chain the ETM node follows."""


def mismatches(
    relays: Mapping[str, Any],
    eth_pool: Mapping[str, Any],
    bitcoin_has_block: Callable[[str], bool],
    anvil_has_block: Callable[[str], bool],
    anvil_has_code: Callable[[str], bool],
) -> list[str]:
    """What the nodes lack of what the ETM node names (``relays``: its ``/api/spv`` reply;
    ``eth_pool``: the addresses its genesis names), one phrase each; [] when consistent."""
    found = []
    btc_tip = (relays.get("bitcoin") or {}).get("tip")
    if btc_tip and not bitcoin_has_block(str(btc_tip["hash"])):
        found.append(
            f"the Bitcoin node lacks block {btc_tip['hash']} (height {btc_tip['height']}), the "
            f"tip of the ETM node's Bitcoin relay"
        )
    eth_tip = (relays.get("ethereum") or {}).get("tip")
    if eth_tip and not anvil_has_block(str(eth_tip["hash"])):
        found.append(
            f"anvil lacks block {eth_tip['hash']} (number {eth_tip['number']}), the tip of the "
            f"ETM node's Ethereum relay"
        )
    for label, key in (("EtherSwapHTLC", "htlc_address"), ("PoolVault", "vault")):
        address = eth_pool.get(key)
        if address and not anvil_has_code(str(address)):
            found.append(f"anvil holds no code at {address}, the {label} the ETM genesis names")
    return found


def hsd_mismatch(relays: Mapping[str, Any], hsd_has_block: Callable[[str], bool]) -> list[str]:
    """hsd lacks the tip of the ETM node's Handshake relay: one phrase, else []."""
    tip = (relays.get("handshake") or {}).get("tip")
    if tip and int(tip.get("height", 0)) > 0 and not hsd_has_block(str(tip["hash"])):
        return [f"hsd lacks block {tip['hash']} (height {tip['height']}), the tip of the ETM "
                "node's Handshake relay"]  # fmt: skip
    return []


def check_stack(report: Mapping[str, Mapping[str, Any]], state_dir: Path) -> None:
    """Raise StackMismatchError unless the running stack's chains agree (see module doc)."""
    btc, anvil, etm = report["bitcoin"], report["anvil"], report["etm"]
    bitcoin = JsonRpcClient(
        str(btc["rpc_url"]), user=btc.get("rpc_user"), password=btc.get("rpc_password")
    )
    eth = JsonRpcClient(str(anvil["rpc_url"]), version="2.0", timeout_s=10.0)
    hsd_info = report.get("hsd") or {}
    hsd = (JsonRpcClient(str(hsd_info["rpc_url"]), user="x", password=hsd_info.get("api_key"))
           if hsd_info.get("rpc_url") else None)  # fmt: skip
    found: list[str] = []
    genesis: dict[str, str] = {}
    try:
        for url in etm.get("urls") or [etm["rpc_url"]]:
            node = NodeClient(str(url), timeout_s=10.0)
            genesis[str(url)] = str(node.status()["genesisId"])
            relays = node.spv_status()
            misses = mismatches(
                relays,
                etm.get("eth_pool") or {},
                lambda block_hash: _answers(bitcoin, "getblockheader", block_hash, False),
                lambda block_hash: _answers(eth, "eth_getBlockByHash", block_hash, False),
                lambda address: _answers(eth, "eth_getCode", address, "latest", empty="0x"),
            )
            if hsd is not None:
                misses += hsd_mismatch(relays, lambda h: _answers(hsd, "getblockheader", h, False))
            found += [f"{url}: {miss}" if etm.get("urls") else miss for miss in misses]
    finally:
        bitcoin.close()
        eth.close()
        if hsd is not None:
            hsd.close()
    found += genesis_mismatches(genesis)
    if found:
        raise StackMismatchError(
            f"the stack in {state_dir} cannot restart whole: {'; '.join(found)} (that node's "
            f"saved chain was lost or replaced): {reset_hint(state_dir)}"
        )


def genesis_mismatches(genesis: Mapping[str, str]) -> list[str]:
    """``url -> genesis id`` of the ETM nodes: one phrase per node off the first's genesis."""
    if not genesis:
        return []
    first_url, first = next(iter(genesis.items()))
    return [
        f"the ETM node at {url} follows genesis {gid}, the one at {first_url} {first}"
        for url, gid in genesis.items()
        if gid != first
    ]


def _answers(rpc: JsonRpcClient, method: str, *params: Any, empty: Any = None) -> bool:
    """True if ``method`` answers something other than an error, null or ``empty``."""
    try:
        result = rpc.call(method, *params)
    except RPCError:
        return False
    except NodeUnavailableError as exc:
        raise StackError(f"{method}: {exc}") from exc
    return result is not None and result != empty
