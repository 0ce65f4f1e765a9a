"""The registry plug-in API: a new tx type and table plug in without touching block code."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import addr

from etm_bridge.chain.params import ChainParams
from etm_bridge.chain.registry import Registry, TxType, build_registry
from etm_bridge.chain.state import TableSpec
from etm_bridge.errors import ConfigError, TxRejectedError


def test_plugin_type_is_applied_in_blocks_with_its_own_table(make_dev_chain: Any) -> None:
    dev = make_dev_chain(tx_plugins=("chain_toy_plugin",))
    user = dev.users[0]
    dev.chain.submit_tx(dev.tx(user, 300, b"hello"))
    block = dev.forge()
    assert block.header.total_amount == 5  # the type's amount() feeds the header
    view = dev.chain.store_view()
    assert view.get("toy_notes", addr(user)) == b"hello"
    assert view.escrow_total("toy_escrow") == 5
    assert dev.chain.registry.tx_json(block.transactions[0])["asset"] == {"note": b"hello".hex()}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"", "malformed_field"), (b"123456789", "note_too_long"), (b"boom", "rejected_by_type")],
)
def test_plugin_rejections_change_nothing(make_dev_chain: Any, payload: bytes, reason: str) -> None:
    dev = make_dev_chain(tx_plugins=("chain_toy_plugin",))
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(dev.users[0], 300, payload))
    assert info.value.reason == reason
    dev.forge()
    assert dev.chain.store_view().get("toy_notes", addr(dev.users[0])) is None
    assert dev.chain.account(addr(dev.users[0])).nonce == 0


def test_without_the_plugin_the_type_is_unknown(make_dev_chain: Any) -> None:
    dev = make_dev_chain()
    with pytest.raises(TxRejectedError) as info:
        dev.chain.submit_tx(dev.tx(dev.users[0], 300, b"hi"))
    assert info.value.reason == "unknown_type"


def test_duplicate_ids_names_and_tables_are_refused() -> None:
    reg = build_registry(ChainParams())
    t = reg.type_named("transfer")
    with pytest.raises(ConfigError, match="already used by 'transfer'"):
        reg.add_type(TxType(1, "other", t.decode, t.check, t.apply))
    with pytest.raises(ConfigError, match="already registered"):
        reg.add_type(TxType(77, "transfer", t.decode, t.check, t.apply))
    with pytest.raises(ConfigError, match="already declared"):
        reg.add_table(TableSpec("accounts", "me"))


def test_bad_plugin_modules_are_named() -> None:
    with pytest.raises(ConfigError, match="cannot be imported"):
        Registry().load_plugin("no_such_module_xyz")
    with pytest.raises(ConfigError, match="no register"):
        Registry().load_plugin("json")


def test_core_types_and_tables() -> None:
    reg = build_registry(ChainParams())
    assert [(t.type_id, t.name) for t in reg.types] == [
        (1, "transfer"), (2, "delegate_register"), (3, "vote"), (4, "unvote"),
        (5, "double_forging_proof"),
    ]  # fmt: skip
    assert {"accounts", "escrow", "meta", "delegates", "votes", "round_orders"} <= reg.table_names
