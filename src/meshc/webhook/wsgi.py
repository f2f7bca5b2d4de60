"""The WSGI entry point each server worker loads once: ``meshc.webhook.wsgi:create``.

Settings come from the environment ``meshc webhook serve`` prepared, so the
worker builds its state (spec, data, compiled policies) at start-up and never
per request.
"""

from __future__ import annotations

import gc

from flask import Flask

from meshc.webhook.app import create_app
from meshc.webhook.settings import Settings
from meshc.webhook.state import load_state


def create() -> Flask:
    app: Flask = create_app(load_state(Settings.from_env()))
    # Everything loaded so far lives as long as the worker. Frozen, it is left
    # out of every later collection: a full one would otherwise walk all of
    # it (~8 ms for the modules, spec and engine) in the middle of a request.
    gc.collect()
    gc.freeze()
    return app
