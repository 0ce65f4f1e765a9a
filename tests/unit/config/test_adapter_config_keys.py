"""An adapter's declared CONFIG_KEYS cover every option its from_config reads (else the config
would refuse a key the adapter takes, or pass one unchecked): each from_config is given a full
mapping that records which keys it reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from etm_bridge_bitcoin.adapter import BitcoinAdapter
from etm_bridge_ethereum.adapter import EthereumAdapter
from etm_bridge_ethereum.config import EthereumConfig

from etm_bridge.adapter import ChainAdapter
from etm_bridge.etm_client.htlc_leg import EtmAdapter


class Recording(dict[str, Any]):
    """A mapping that remembers every key asked for."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


SAMPLE: dict[type, Any] = {str: "1", int: 1, float: 1.0, bool: True, tuple: ("http://127.0.0.1:1",)}


def _full(cls: type[ChainAdapter], tmp_path: Path, **real: Any) -> Recording:
    assert cls.CONFIG_KEYS is not None
    values = {k: str(tmp_path) if t is Path else SAMPLE[t] for k, t in cls.CONFIG_KEYS.items()}
    return Recording({**values, **real})


def test_bitcoin_reads_only_declared_keys(tmp_path: Path) -> None:
    config = _full(BitcoinAdapter, tmp_path, secret_hex="11" * 32, network="regtest",
                   rpc_url="http://127.0.0.1:1")  # fmt: skip
    BitcoinAdapter.from_config(config).close()
    assert config.read <= set(BitcoinAdapter.CONFIG_KEYS or ())
    assert BitcoinAdapter.SECRET_FIELD in config.read


def test_ethereum_reads_only_declared_keys(tmp_path: Path) -> None:
    config = _full(EthereumAdapter, tmp_path, private_key="0x" + "11" * 32,
                   htlc_address="0x" + "22" * 20)  # fmt: skip
    EthereumConfig.from_mapping(config)  # what EthereumAdapter.from_config reads its options with
    assert config.read <= set(EthereumAdapter.CONFIG_KEYS or ())
    assert EthereumAdapter.SECRET_FIELD in config.read


def test_the_etm_leg_reads_only_declared_keys(tmp_path: Path) -> None:
    config = _full(EtmAdapter, tmp_path, secret_hex="11" * 32, url="http://127.0.0.1:1")
    EtmAdapter.from_config(config).close()
    assert config.read <= set(EtmAdapter.CONFIG_KEYS or ())
