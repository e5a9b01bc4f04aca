"""Row ids from URLs, forms and query strings, bounded to what the database holds.

Our id columns are INTEGER: 32 bits on PostgreSQL (SQLite's take 64). A larger
number must be "no such row" (or a bad cursor), not an overflow deep in the driver.
"""

from __future__ import annotations

MAX_ROW_ID = 2**31 - 1


def row_id(value) -> int | None:
    """The id `value` names, or None when it names none."""
    try:
        number = int(value)
    except (TypeError, ValueError):  # also for digit strings beyond Python's conversion limit
        return None
    return number if 1 <= number <= MAX_ROW_ID else None


def cursor(value) -> int | None:
    """A paging cursor (the last row id of the previous page): None when absent.

    :raise ValueError: present but not a row id.
    """
    if value in (None, ""):
        return None
    number = row_id(value)
    if number is None:
        raise ValueError(value)
    return number
