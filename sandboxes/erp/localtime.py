"""The ERP's time convention: whole seconds, written with the ERP's local UTC offset.

On-premise ERPs keep their server's local time, so ``updated_at`` reads
``2026-11-29T13:04:05+03:00`` rather than Repzo's UTC milliseconds. Instants are kept as epoch
seconds inside the stub (the SQLite order column) and only written as text at the edge.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

DEFAULT_UTC_OFFSET = "+03:00"
_OFFSET = re.compile(r"^([+-])(\d\d):?(\d\d)$")
# A client that forgets to percent-encode "+" in a query string sends a space instead.
_SPACE_FOR_PLUS = re.compile(r" (\d\d:?\d\d)$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def parse_utc_offset(text: str) -> timezone:
    """``+03:00``, ``-0530`` or ``Z``; ValueError for anything else."""
    if text.strip().upper() == "Z":
        return UTC
    match = _OFFSET.match(text.strip())
    if match is None:
        raise ValueError(f"expected a UTC offset like +03:00, got {text!r}")
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta >= timedelta(hours=24) or int(minutes) >= 60:
        raise ValueError(f"UTC offset {text!r} is out of range")
    return timezone(-delta if sign == "-" else delta)


class LocalTime:
    def __init__(self, utc_offset: str = DEFAULT_UTC_OFFSET) -> None:
        self.tz = parse_utc_offset(utc_offset)
        offset = self.tz.utcoffset(None)
        total = int(offset.total_seconds())
        sign = "-" if total < 0 else "+"
        # Always spelt +HH:MM (never Z), the way the ERP writes it.
        self.utc_offset = f"{sign}{abs(total) // 3600:02d}:{abs(total) % 3600 // 60:02d}"

    def format(self, epoch_s: int) -> str:
        moment = datetime.fromtimestamp(epoch_s, tz=self.tz)
        return moment.isoformat(timespec="seconds")

    def today(self, epoch_s: int) -> date:
        """The ERP's business date at an instant (its local calendar day)."""
        return datetime.fromtimestamp(epoch_s, tz=self.tz).date()

    def parse(self, text: str) -> int:
        """Epoch seconds of an ISO 8601 instant that carries an offset (or ``Z``), rounded up to
        the next whole second: records carry whole seconds, so ``>= 13:04:05.5`` is ``>= :06``.
        ValueError when the text is no such instant."""
        cleaned = _SPACE_FOR_PLUS.sub(r"+\1", text.strip())
        try:
            moment = datetime.fromisoformat(cleaned)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 instant, got {text!r}") from None
        if moment.tzinfo is None:
            raise ValueError(
                f"{text!r} has no UTC offset; write it like 2026-11-29T13:04:05{self.utc_offset}"
            )
        whole, rest = divmod(moment - _EPOCH, _SECOND)
        return whole + (1 if rest else 0)
