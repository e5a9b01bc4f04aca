"""Alembic environment: always handed a connection by gateway.migrate."""

from alembic import context

import gateway.models  # noqa: F401  (fills the metadata)
from gateway.db import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `idgate init`")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
