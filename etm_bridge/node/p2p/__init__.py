"""The ETM peer-to-peer layer: WebSocket peers beside the HTTP API, gossip, sync, bans.

``messages`` (the wire types, pure), ``limits`` (seen-sets, rate limits, ban scores, pure),
``peer`` (one connection), ``gossip`` (txs, blocks, evidence), ``sync`` (catching up),
``network`` (connections, handshake, dispatch, peer exchange), ``endpoint`` (the routes and the
503-while-syncing gate). ``docs/network.md`` describes the protocol and how to run a network.
"""
