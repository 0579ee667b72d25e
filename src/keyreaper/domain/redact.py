"""A logging filter that redacts live secrets: the second line of defence after Secret's repr."""

from __future__ import annotations

import logging

from keyreaper.domain.secret import live_values

_MIN_REDACT = 6  # shorter values would redact ordinary words


class RedactingFilter(logging.Filter):
    """Replaces any live secret's plaintext in a log record with a marker."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for value in live_values():
            if len(value) >= _MIN_REDACT and value in redacted:
                redacted = redacted.replace(value, "[REDACTED]")
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for value in live_values():
                if len(value) >= _MIN_REDACT and value in text:
                    record.exc_info = None
                    record.exc_text = "[traceback redacted: it contained a secret]"
                    break
        return True
