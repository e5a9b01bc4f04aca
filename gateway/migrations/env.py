"""Alembic environment: always handed a connection by gateway.migrate."""

from alembic import context

import gateway.models  # noqa: F401  (fills the metadata)
from gateway.db import Base, UTCDateTime

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `idgate init`")



def _render_item(type_, obj, _autogen_context):
    # Migrations stay free of our Python-side type: the column is a plain timestamptz.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


context.configure(
    render_item=_render_item,
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
