"""Log helpers: every line carries the request id; production logs are one JSON object a line."""

import json
import logging
from datetime import UTC, datetime

from apps.core import request_context


class RequestIdFilter(logging.Filter):
    """Stamps the current request id on each record. Django logs its 4xx/5xx lines
    (`django.request`) after the middleware has unbound the id; those records carry the request
    itself, whose id is used instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = request_context.get("request_id")
        if request_id is None:
            request_id = getattr(getattr(record, "request", None), "request_id", None)
        record.request_id = request_id or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Structured values passed as `extra={"fields": {...}}` become
    keys of their own (they never replace the standard keys)."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update({key: value for key, value in fields.items() if key not in payload})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)
