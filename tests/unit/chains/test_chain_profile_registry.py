"""The chain registry refuses every profile set that would make two chains' consensus names
collide or break the ``<ticker>_`` prefix rules, names both profiles and where they came from,
and resolves spellings in the documented order (configured names, then name, ticker, alias).

The broken profiles are the real Bitcoin and Ethereum profiles with one field changed
(``dataclasses.replace``), so each case differs from a valid registry by exactly that field. The
import failure is a real distribution (``*.dist-info`` with an ``etm_bridge.chains`` entry
point) written to a temporary ``sys.path`` entry.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from etm_bridge.chain.state import TableSpec
from etm_bridge.chains import registry as reg
from etm_bridge.chains.bitcoin import PROFILE as BITCOIN
from etm_bridge.chains.ethereum import PROFILE as ETHEREUM
from etm_bridge.chains.profile import AssetSpec, ChainProfile
from etm_bridge.errors import BindingError, ConfigError


def _entry(profile: ChainProfile, origin: str) -> reg.Registered:
    return reg.Registered(profile, origin, in_tree=not origin.startswith("distribution"))


def _registry(*profiles: tuple[ChainProfile, str]) -> reg.ChainRegistry:
    return reg.ChainRegistry([_entry(p, o) for p, o in profiles])


def _second_bitcoin(**changes: object) -> ChainProfile:
    """Bitcoin renamed so it differs from the real one only where ``changes`` say."""
    relay = BITCOIN.relay
    assert relay is not None
    moved = replace(relay, type_id_block=1000, headers_type_id=1001,
                    types={1001: "lbtc_relay_headers"},
                    tables=(TableSpec("spv_lbtc_headers", owner="spv", doc="t"),),
                    genesis=replace(relay.genesis, keys=("lbtc_network",)))  # fmt: skip
    base = replace(BITCOIN, name="litebit", ticker="lbtc", aliases=(), relay=moved,
                   wallet=replace(BITCOIN.wallet, label="lbtc"), proof_kinds={},
                   assets=AssetSpec("lbtc", lambda a: a == "lbtc", lambda a: None))  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_installed_chains_load_in_type_id_order() -> None:
    live = reg.chain_registry()
    assert live.names()[:2] == ("bitcoin", "ethereum")
    assert live.tickers()[:2] == ("btc", "eth")
    assert live.origin(live.by_name("bitcoin")) == "package etm_bridge.chains.bitcoin"
    both = _registry((ETHEREUM, "b"), (BITCOIN, "a"), (_second_bitcoin(), "c"))
    assert both.names() == ("bitcoin", "ethereum", "litebit")


def test_a_duplicate_ticker_names_both_profiles_and_their_origins() -> None:
    relay = BITCOIN.relay
    assert relay is not None
    moved = replace(relay, type_id_block=1000, headers_type_id=1001,
                    types={1001: "btc_relay_headers"}, tx_plugin="twin.relay")  # fmt: skip
    twin = replace(BITCOIN, name="bitcoin2", relay=moved, proof_kinds={})
    with pytest.raises(ConfigError) as info:
        _registry((BITCOIN, "package etm_bridge.chains.bitcoin"), (twin, "distribution twin 1.0"))
    text = str(info.value)
    assert "'bitcoin'" in text and "'bitcoin2'" in text
    assert "package etm_bridge.chains.bitcoin" in text and "distribution twin 1.0" in text


def test_an_alias_taken_by_another_chain_is_refused() -> None:
    with pytest.raises(ConfigError, match="both answer to 'eth'"):
        _registry((ETHEREUM, "a"), (_second_bitcoin(aliases=("eth",)), "b"))


@pytest.mark.parametrize("name", ["etm", "kdf", "policy"])
def test_reserved_names_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="is reserved"):
        _registry((_second_bitcoin(aliases=(name,)), "x"))


def test_overlapping_type_id_blocks_name_both_profiles() -> None:
    relay = _second_bitcoin().relay
    assert relay is not None
    clash = _second_bitcoin(relay=replace(relay, type_id_block=100, headers_type_id=101,
                                          types={101: "lbtc_relay_headers"}))  # fmt: skip
    with pytest.raises(ConfigError) as info:
        _registry((BITCOIN, "a"), (clash, "b"))
    assert "both use type-id block 100" in str(info.value)
    assert "'bitcoin' (a)" in str(info.value) and "'litebit' (b)" in str(info.value)


@pytest.mark.parametrize(
    ("block", "types", "problem"),
    [
        (105, {106: "lbtc_relay_headers"}, "not a multiple of 10"),
        (200, {201: "lbtc_relay_headers"}, "not a multiple of 10"),  # the exchange's ids
        (1000, {1001: "lbtc_relay_headers", 1011: "lbtc_tx_proof"}, "outside its block"),
    ],
)
def test_illegal_type_id_blocks_are_refused(block: int, types: dict, problem: str) -> None:
    relay = _second_bitcoin().relay
    assert relay is not None
    bad = _second_bitcoin(relay=replace(relay, type_id_block=block, headers_type_id=block + 1,
                                        types=types))  # fmt: skip
    with pytest.raises(ConfigError, match=problem):
        _registry((bad, "x"))


def test_type_names_tables_and_genesis_keys_must_carry_the_ticker() -> None:
    relay = _second_bitcoin().relay
    assert relay is not None
    cases = {
        "type names": replace(relay, types={1001: "btc_relay_headers"}),
        "tables": replace(relay, tables=(TableSpec("spv_btc_headers", owner="spv", doc="t"),)),
        "genesis keys": replace(relay, genesis=replace(relay.genesis, keys=("btc_network",))),
    }
    for what, bad in cases.items():
        with pytest.raises(ConfigError, match=what):
            _registry((_second_bitcoin(relay=bad), "x"))


def test_key_length_ticker_wallet_label_and_exchange_rules() -> None:
    with pytest.raises(ConfigError, match="binding key"):
        _registry((_second_bitcoin(binding=replace(BITCOIN.binding, key_len=20)), "x"))
    with pytest.raises(ConfigError, match="ticker 'LBTC'"):
        _registry((_second_bitcoin(ticker="LBTC"), "x"))
    with pytest.raises(ConfigError, match="wallet label 'btc'"):
        _registry((_second_bitcoin(wallet=BITCOIN.wallet), "x"))
    with pytest.raises(ConfigError, match="an exchange needs a relay"):
        _registry((_second_bitcoin(relay=None), "x"))


def test_a_proof_kind_declared_twice_is_refused() -> None:
    twin = _second_bitcoin(proof_kinds=dict(BITCOIN.proof_kinds))
    with pytest.raises(ConfigError, match="bitcoin-merkle"):
        _registry((BITCOIN, "a"), (twin, "b"))


def test_resolve_order_configured_then_name_ticker_alias() -> None:
    live = _registry((BITCOIN, "a"), (ETHEREUM, "b"))
    assert live.resolve("btc") == "bitcoin"
    assert live.resolve("ETH") == "ethereum"
    assert live.resolve("bitcoin") == "bitcoin"
    for alias in ETHEREUM.aliases:
        assert live.resolve(alias) == "ethereum"
    assert live.resolve("btc", configured=["btc"]) == "btc"  # a [chains.btc] table wins
    assert live.resolve("fake") == "fake"  # an adapter without a profile
    assert live.for_asset("btc") is BITCOIN
    with pytest.raises(BindingError):
        live.for_asset("doge")


def test_a_profile_failing_to_import_stops_the_registry(tmp_path: Path) -> None:
    site = tmp_path / "site"
    dist = site / "boom_chain-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "boom_chain.py").write_text("raise RuntimeError('half-installed chain')\n")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: boom-chain\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[etm_bridge.chains]\nboom = boom_chain:PROFILE\n")
    sys.path.insert(0, str(site))
    try:
        with pytest.raises(ConfigError) as info:
            reg.discover()
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("boom_chain", None)
    text = str(info.value)
    assert "'boom'" in text and "boom-chain 0.1" in text and "half-installed chain" in text
    assert reg.discover().names()[:2] == ("bitcoin", "ethereum")  # gone with its path entry


def test_an_installed_relay_without_its_own_tx_plugin_is_refused() -> None:
    # attack (r12): a distribution's chain whose relay has no tx_plugin. The node's SPV plug-in
    # registers such a relay's types and tables on every ETM chain (spv.relay_types), so
    # installing it changed the transaction types of chains that never use it: a node with the
    # plugin accepts blocks the others reject. Only the in-tree first chains may do that.
    base = _second_bitcoin()
    relay = base.relay
    assert relay is not None and relay.tx_plugin is None and BITCOIN.relay is not None
    headers = BITCOIN.relay.headers_type_id

    def tx_types(dev: bool) -> list:
        return [replace(t, type_id=1001, name="lbtc_relay_headers")
                for t in relay.tx_types(dev) if t.type_id == headers]  # fmt: skip

    plugin = replace(base, relay=replace(relay, tx_types=tx_types))
    assert plugin.relay is not None
    with pytest.raises(ConfigError) as info:
        _registry((BITCOIN, "package b"), (plugin, "distribution litebit 0.1"))
    text = str(info.value)
    assert "'litebit'" in text and "litebit 0.1" in text and "tx_plugin" in text
    own = replace(plugin, relay=replace(plugin.relay, tx_plugin="litebit_chain.relay"))
    loaded = _registry((BITCOIN, "package b"), (own, "distribution litebit 0.1"))
    assert loaded.names() == ("bitcoin", "litebit")
    # what the rule protects: with its own tx plug-in the node's SPV plug-in leaves it out
    from etm_bridge.chain.registry import Registry
    from etm_bridge.spv import relay_types

    def types_with(chains: reg.ChainRegistry) -> set[str]:
        node = Registry()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(relay_types, "chain_registry", lambda: chains)
            relay_types.register(node)
        return {t.name for t in node.types}

    assert "lbtc_relay_headers" not in types_with(loaded)
    with_shadow = reg.ChainRegistry([reg.Registered(BITCOIN, "b", in_tree=True),
                                     reg.Registered(plugin, "c", in_tree=True)])  # fmt: skip
    assert "lbtc_relay_headers" in types_with(with_shadow)  # what an installed one would do


def test_a_chain_claiming_another_chains_asset_is_refused() -> None:
    # attack (r12): a plugin chain whose assets also own "btc" (its pools' claim keys, bindings
    # and proofs would then be whichever profile for_asset met first); only the type-id order
    # kept Bitcoin first. Refused, naming both.
    greedy = _second_bitcoin(assets=AssetSpec("lbtc", lambda a: a in ("lbtc", "btc"),
                                              lambda a: None))  # fmt: skip
    greedy = replace(greedy, relay=replace(greedy.relay, tx_plugin="litebit.relay"))  # type: ignore[type-var]
    with pytest.raises(ConfigError, match="both own asset 'btc'") as info:
        _registry((BITCOIN, "package b"), (greedy, "distribution litebit 0.1"))
    assert "'bitcoin'" in str(info.value) and "'litebit'" in str(info.value)


def test_a_chain_naming_another_chains_adapter_is_refused() -> None:
    # attack (r12): a plugin chain whose adapter is "bitcoin": a leg configured with
    # `adapter = "bitcoin"` (for_leg, for_adapter) was Bitcoin only by the type-id order.
    borrowed = _second_bitcoin(adapter="bitcoin")
    borrowed = replace(borrowed, relay=replace(borrowed.relay, tx_plugin="litebit.relay"))  # type: ignore[type-var]
    with pytest.raises(ConfigError, match="both name adapter 'bitcoin'"):
        _registry((BITCOIN, "package b"), (borrowed, "distribution litebit 0.1"))
