"""Test profile: real database and broker when their URLs are set (CI), embedded otherwise."""

import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATABASES, env

SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789abcdefghij"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
MEDIA_ROOT = Path(env.str("MLGOV_MEDIA_ROOT", default=tempfile.mkdtemp(prefix="mlgov-media-")))
MLGOV_MAX_ARTIFACT_BYTES = env.int("MLGOV_MAX_ARTIFACT_BYTES", default=5 * 1024 * 1024)
MLGOV_MAX_DATASET_BYTES = env.int("MLGOV_MAX_DATASET_BYTES", default=5 * 1024 * 1024)
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One file per test process, so that parallel runs on one machine never share a database.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.mkdtemp(prefix="mlgov-testdb-")) / "test.sqlite3")
    }
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"token-login": "1000/min"}}  # noqa: F405
# Static files come from the app folders through the finders; no collectstatic in tests.
STATIC_ROOT = Path(tempfile.mkdtemp(prefix="mlgov-static-"))
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
