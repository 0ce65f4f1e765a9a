"""The use cases under the CLI and the demo (swaps, watching, liquidity, bindings, relays)."""
