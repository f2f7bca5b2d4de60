"""The WSGI entry point each server worker loads once: ``meshc.webhook.wsgi:create``.

Settings come from the environment ``meshc webhook serve`` prepared, so the
worker builds its state (spec, data, compiled policies) at start-up and never
per request. Under ``meshc webhook serve`` the worker then follows the
supervisor's spec snapshot and swaps its state when the spec is reloaded
(webhook/reload.py).
"""

from __future__ import annotations

import gc

from flask import Flask

from meshc.webhook.app import create_app
from meshc.webhook.reload import SnapshotFollower, refreeze
from meshc.webhook.settings import Settings
from meshc.webhook.state import LiveState, load_state


def create() -> Flask:
    settings = Settings.from_env()
    follower: SnapshotFollower | None = None
    if settings.spec_snapshot:
        follower = SnapshotFollower(settings, on_retired=refreeze)
        live = follower.first()
    else:
        live = LiveState(load_state(settings))
    app: Flask = create_app(live)
    # Everything loaded so far lives as long as the worker. Frozen, it is left
    # out of every later collection: a full one would otherwise walk all of
    # it (~8 ms for the modules, spec and engine) in the middle of a request.
    # A spec reload unfreezes, collects the state it released, and freezes again.
    gc.collect()
    gc.freeze()
    if follower is not None:
        follower.start()
    return app
