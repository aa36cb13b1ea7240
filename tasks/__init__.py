"""Prefect tasks: thin wrappers over rovercam functions, one module per pipeline stage.

Each task body is one rovercam call; operations policy (retries, timeouts, names, caching) sits
on the decorator. Ids and storage keys cross task boundaries; arrays stay in storage.
"""
