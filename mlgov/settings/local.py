"""Embedded profile: SQLite and a filesystem broker unless variables say otherwise."""

from .base import *  # noqa: F403
from .base import DATA_DIR, SECRET_KEY, STATIC_ROOT, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# A local-only key, kept in the data folder so sessions survive a restart. Never used in production.
if not SECRET_KEY:
    _key_file = DATA_DIR / "secret_key"
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    if not _key_file.exists():
        import secrets

        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()

# `make run` serves static files from the app folders (no collectstatic step on a fresh machine).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
