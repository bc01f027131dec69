"""Plain helpers every app shares: request context, logging, metrics, database, Redis, outbound HTTP.

Not a Django app, and it imports nothing from apps/ (tests/test_import_graph.py checks).
"""
