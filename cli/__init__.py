"""etm_bridge_cli: the click command-line application (a thin layer over the library)."""
