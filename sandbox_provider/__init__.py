"""A sandbox payment provider for development and tests (stdlib only).

    python -m sandbox_provider --port 8765 --webhook-url URL --webhook-secret S

server.py describes its API and its fault modes; signing.py its webhook signatures.
"""
