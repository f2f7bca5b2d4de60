"""The WSGI entry point each server worker loads once: ``meshc.webhook.wsgi:create``.

Settings come from the environment ``meshc webhook serve`` prepared, so the
worker builds its state (spec, data, compiled policies) at start-up and never
per request.
"""

from __future__ import annotations

from flask import Flask
from meshc.webhook.app import create_app
from meshc.webhook.settings import Settings
from meshc.webhook.state import load_state


def create() -> Flask:
    app: Flask = create_app(load_state(Settings.from_env()))
    return app
