"""The ETM node: HTTP JSON API (Starlette on uvicorn), forger loop, and a Python API client.

``config`` (the node's own settings), ``service`` (chain + forging keys -> JSON views), ``api``
(routes, body limits, admin token), ``server`` (uvicorn + forger loop), ``client`` (requests).
"""
