"""The Ethereum header attester a custody committee member runs (design-14 sections 5 and 8).

On a chain whose Ethereum relay is in committee mode (genesis ``eth_attestation: "committee"``)
a header counts only once m members of the newest custody committee attest it or a descendant
(tx 113). Each member runs this loop against **its own** Ethereum node, which is the only thing
it trusts: every ``interval_s`` it

1. reads the relay's status from its ETM node (``/api/spv/eth``: the attested tip, the highest
   stored header, its own latest attestation);
2. takes the block ``attest_depth`` deep on its Ethereum node (depth 1: the head) as the target;
3. relays (tx 111, anyone may) the headers of its own chain up to the target that the relay
   lacks: from after the relay's highest stored header when that header is on its chain, else
   from after the highest height where the attested chain agrees with its own;
4. attests the target (tx 113) unless its latest attestation already names it.

A member never attests a header it did not read from its own node, so a forged header relayed
by anyone (``tests/unit/spv/test_eth_attested_forgery.py``) gathers at most the rogue members'
attestations. Mainnet should attest the ``finalized`` block (depth: two epochs); anvil depth 1.

Run it as ``python -m etm_bridge.chains.ethereum.attester --etm URL --eth-rpc URL (--key-file
PATH | --dev-key NAME) [--member HEX] [--depth N] [--interval S]``: the key is the member's
delegate key or its registered custody agent (``--member``: the delegate key, when it is an
agent). It lives in the Ethereum chain folder (chain knowledge stays there; ``etm/`` is pure,
so not there): design-14's signer process (``custody_signer/``, not built yet) will run it.
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests

from etm_bridge.chain.keys import SigningKey, dev_key
from etm_bridge.errors import (
    ChainError,
    ConfigError,
    EtmBridgeError,
    TxRejectedError,
    ValidationError,
)
from etm_bridge.etm_client.submit import Submitter
from etm_bridge.node.client import NodeClient
from etm_bridge.spv.fork_point import common_height

from .etm.relay_types import EthAttestation
from .profile import ATTEST_HEADERS, RELAY_HEADERS, TICKER
from .spv.rlp import encode_checked_header, header_hash, to_int

log = logging.getLogger(__name__)

#: The relay's limit per ``eth_relay_headers`` transaction.
MAX_BATCH = 256
DUPLICATE = "spv_duplicate"


class EthHeaders(Protocol):
    """The member's own Ethereum node: its head number and checked header RLPs."""

    def head(self) -> int: ...
    def header(self, number: int) -> bytes: ...


class EthRpcHeaders:
    """:class:`EthHeaders` over JSON-RPC (``eth_blockNumber``, ``eth_getBlockByNumber``); every
    header is re-encoded and checked against the hash the node gives."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self.url, self.timeout_s = url, timeout_s
        self.session = requests.Session()

    def _call(self, method: str, params: list[Any]) -> Any:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        try:
            reply = self.session.post(self.url, json=body, timeout=self.timeout_s).json()
        except (requests.RequestException, ValueError) as exc:
            raise ChainError(f"Ethereum node at {self.url}: {method} failed: {exc}") from None
        if "error" in reply or "result" not in reply:
            raise ChainError(f"Ethereum node at {self.url}: {method}: {reply.get('error')}")
        return reply["result"]

    def head(self) -> int:
        return to_int(self._call("eth_blockNumber", []), "eth_blockNumber")

    def header(self, number: int) -> bytes:
        block = self._call("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise ChainError(f"Ethereum node at {self.url} has no block {number}")
        return encode_checked_header(block)


@dataclass(frozen=True)
class AttesterConfig:
    attest_depth: int = 1  # 1: the head itself
    interval_s: float = 2.0
    batch: int = MAX_BATCH

    def __post_init__(self) -> None:
        if self.attest_depth < 1:
            raise ConfigError(f"attest_depth must be at least 1, got {self.attest_depth}")
        if not 1 <= self.batch <= MAX_BATCH:
            raise ConfigError(f"batch must be 1..{MAX_BATCH} headers, got {self.batch}")
        if self.interval_s <= 0:
            raise ConfigError(f"interval_s must be positive, got {self.interval_s}")


@dataclass(frozen=True)
class StepResult:
    relayed: int  # headers sent (and accepted) this step
    attested: int | None  # the block number attested this step (None: nothing new)


class Attester:
    """One member's attester (see the module). ``member``: the delegate key it attests for
    (default: ``key``'s, for a delegate signing with its own key)."""

    def __init__(
        self,
        client: NodeClient,
        key: SigningKey,
        source: EthHeaders,
        config: AttesterConfig | None = None,
        member: bytes | None = None,
    ) -> None:
        self.client, self.source = client, source
        self.config = config or AttesterConfig()
        self.member = member or key.public_key
        self.submitter = Submitter(client, key)
        self._stop = threading.Event()

    def _hash_at(self, number: int) -> str:
        return "0x" + header_hash(self.source.header(number)).hex()

    def step(self) -> StepResult:
        """Relay what the relay lacks up to the target and attest it."""
        status = self.client.spv_relay(TICKER)
        if status.get("mode") != "committee":
            raise ConfigError(
                "this ETM chain's Ethereum relay is not in committee mode (genesis "
                "eth_attestation); it takes no attestations"
            )
        target = self.source.head() - self.config.attest_depth + 1
        if target < int(status["checkpoint_number"]):
            return StepResult(0, None)
        relayed = self._relay_up_to(status, target)
        target_hash = self._hash_at(target)
        want = {"number": target, "hash": target_hash}
        if status.get("attestations", {}).get(self.member.hex()) == want:
            return StepResult(relayed, None)
        payload = EthAttestation(target, bytes.fromhex(target_hash[2:])).encode()
        self.submitter.submit_raw(ATTEST_HEADERS, payload)
        return StepResult(relayed, target)

    def _start(self, status: dict[str, Any], target: int) -> int:
        """The first number to send (see the module, step 3)."""
        stored = status["relayed_tip"]
        number = int(stored["number"])
        if number <= self.source.head() and self._hash_at(number) == stored["hash"]:
            return number + 1
        checkpoint = int(status["checkpoint_number"])
        top = min(int(status["tip"]["number"]), target)

        def agree(height: int) -> bool:
            return self.client.spv_best_hash(TICKER, height) == self._hash_at(height)

        found = common_height(top, agree, floor=checkpoint)
        if found is None:
            raise ChainError("this Ethereum node's chain does not contain the relay's checkpoint")
        return found + 1

    def _relay_up_to(self, status: dict[str, Any], target: int) -> int:
        start, sent = self._start(status, target), 0
        while start <= target:
            count = min(self.config.batch, target - start + 1)
            headers = [self.source.header(n) for n in range(start, start + count)]
            try:
                self.submitter.submit_raw(RELAY_HEADERS, _encode(headers))
                sent += count
            except TxRejectedError as exc:
                if exc.reason != DUPLICATE:  # another relayer sent all of them: go on
                    raise
            start += count
        return sent

    def run(self) -> None:
        """:meth:`step` every ``interval_s`` until :meth:`stop`; a failing step (a node down,
        a refused transaction) is logged and retried at the next interval."""
        while not self._stop.is_set():
            try:
                result = self.step()
                if result.relayed or result.attested is not None:
                    log.info("attester: relayed %d, attested %s", result.relayed, result.attested)
            except EtmBridgeError as exc:
                log.warning("attester step failed (retrying in %ss): %s", self.config.interval_s,
                            exc)  # fmt: skip
            self._stop.wait(self.config.interval_s)

    def stop(self) -> None:
        self._stop.set()


def _encode(headers: list[bytes]) -> bytes:
    import rlp

    return bytes(rlp.encode(headers))


def _key(args: argparse.Namespace) -> SigningKey:
    if args.dev_key:
        return dev_key(args.dev_key)
    text = Path(args.key_file).read_text().strip()
    try:
        return SigningKey(bytes.fromhex(text))
    except (ValueError, ValidationError):
        raise ConfigError(f"{args.key_file} must hold a 32-byte ed25519 seed in hex") from None


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m etm_bridge.chains.ethereum.attester")
    parser.add_argument("--etm", required=True, help="the member's ETM node API URL")
    parser.add_argument("--eth-rpc", required=True, help="the member's own Ethereum node")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--key-file", help="file with the delegate's or agent's seed (hex)")
    group.add_argument("--dev-key", help="UNSAFE: a development key by name (tests, stack)")
    parser.add_argument("--member", help="the delegate key (hex) when the key is its agent")
    parser.add_argument("--depth", type=int, default=1, help="attest blocks this deep")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between steps")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    config = AttesterConfig(attest_depth=args.depth, interval_s=args.interval)
    member = bytes.fromhex(args.member) if args.member else None
    attester = Attester(
        NodeClient(args.etm), _key(args), EthRpcHeaders(args.eth_rpc), config, member
    )
    try:
        attester.run()
    except KeyboardInterrupt:
        attester.stop()


if __name__ == "__main__":
    main()
