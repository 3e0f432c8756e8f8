"""The real clock."""

from datetime import UTC, datetime


class SystemClock:
    """`Clock` port: the system's time, timezone-aware, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)
