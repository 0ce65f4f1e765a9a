"""Kept for the tests that import ``node_process.NodeProcess``: the helper now lives in
``etm_bridge_regtest.etm_process`` (``EtmNodeProcess``, and ``etm_node_in`` for a fresh node)."""

from etm_bridge_regtest.etm_process import EtmNodeProcess as NodeProcess

__all__ = ["NodeProcess"]
