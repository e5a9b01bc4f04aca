"""Health endpoints for load balancers and orchestrators."""

from __future__ import annotations

import os

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.db import get_session

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    # Which worker answered: behind one port, each process of `idgate serve` is told apart by it.
    return jsonify(status="ok", worker=os.getpid())


@bp.get("/readyz")
def readyz():
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    # Out of step, the gateway still answers rightly, from the database: ready, and saying so.
    in_step = current_app.extensions["idgate.verify_cache"].channel.generation() is not None
    return jsonify(status="ok", database="ok", invalidation="in_step" if in_step else "out_of_step")
