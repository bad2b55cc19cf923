"""Settings shared by every profile. Every environment variable is read here, once.

Defaults are the embedded profile: a SQLite file and a filesystem Celery broker under DATA_DIR,
so `make run` works on a fresh machine with no services. Production overrides in production.py.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------------
DATA_DIR = Path(env.str("MLGOV_DATA_DIR", default=str(BASE_DIR / ".data")))
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
ORGANISATION_NAME = env.str("MLGOV_ORGANISATION_NAME", default="Example Organisation")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.registry",
    "apps.threats",
    "apps.scans",
    "apps.audit",
    "apps.policies",
    "apps.dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "apps.audit.middleware.AuditContextMiddleware",
    "apps.accounts.middleware.TwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes requires: turns a sign-in that hit the limit into the lock-out page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mlgov.urls"
WSGI_APPLICATION = "mlgov.wsgi.application"
ASGI_APPLICATION = "mlgov.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.product",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'mlgov.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web process and the worker share the file: wait instead of failing on a busy lock.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "registry:home"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
API_TOKEN_TTL_HOURS = env.int("MLGOV_API_TOKEN_TTL_HOURS", default=24 * 30)
# Sign-in throttling (django-axes): after MLGOV_LOGIN_FAILURE_LIMIT failures for one username
# from one client address (web form, API token endpoint or a wrong one-time code), that pair is
# refused (429) for MLGOV_LOGIN_COOLOFF_MINUTES. The address is proxy-aware through
# MLGOV_TRUSTED_PROXY_COUNT (the same address the audit trail records).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out callers, checks nothing
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("MLGOV_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("MLGOV_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_ip"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit trail already
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"  # a page (429), never a 500
# Two-factor sign-in (django-otp, TOTP apps and backup codes): required for these roles (and
# superusers); anyone else may turn it on. See apps/accounts/twofactor.py.
MLGOV_REQUIRE_2FA_ROLES = env.list(
    "MLGOV_REQUIRE_2FA_ROLES", default=["administrator", "compliance_officer"]
)
OTP_TOTP_ISSUER = f"mlgov {ORGANISATION_NAME}"

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("MLGOV_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env.str("MLGOV_MEDIA_ROOT", default=str(DATA_DIR / "media")))
STORAGES = {
    # Every file (artifacts, datasets, evidence, reports) goes through this storage, never a
    # local path, so that a django-storages backend can replace it for workers on other machines.
    "default": {
        "BACKEND": env.str(
            "MLGOV_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage"
        ),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploads are hashed while they stream in and spill to a temporary file past this size.
FILE_UPLOAD_HANDLERS = ["apps.core.uploads.HashingUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
MLGOV_MAX_ARTIFACT_BYTES = env.int("MLGOV_MAX_ARTIFACT_BYTES", default=2 * 1024**3)
MLGOV_MAX_DATASET_BYTES = env.int("MLGOV_MAX_DATASET_BYTES", default=512 * 1024**2)
MLGOV_MAX_CSV_FIELD_BYTES = env.int("MLGOV_MAX_CSV_FIELD_BYTES", default=1024 * 1024)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox's hashed, expiring tokens, plus read-only tokens (403 on unsafe methods).
        "apps.accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.accounts.permissions.IsAuthenticatedMember"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token-login": env.str("MLGOV_TOKEN_LOGIN_RATE", default="20/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# knox's own token model, named because it is swappable: migrations of models that point to it
# (apps.accounts.ApiTokenInfo) resolve the dependency through this setting.
KNOX_TOKEN_MODEL = "knox.AuthToken"  # noqa: S105 - a model name
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=API_TOKEN_TTL_HOURS),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mlgov API",
    "DESCRIPTION": "ML threat modeling and governance: registry, threat model, scans, reports.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # CONTRACT.md: every /api/v1/ call other than token login needs credentials.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Swagger UI is served from our own static files (no CDN), without inline scripts.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # "role" names both organisation roles (policy grants) and lineage roles: distinct enums,
    # the lineage one keeping the name it had before.
    "ENUM_NAME_OVERRIDES": {
        "OrganisationRoleEnum": "apps.accounts.choices.Role",
        "RoleEnum": "apps.registry.choices.LineageRole",
        # Threat model: several "status" and "band" fields, one enum per choice set.
        "RiskBandEnum": "apps.threats.choices.RiskBand",
        "AssessmentStatusEnum": "apps.threats.choices.AssessmentStatus",
        "MitigationStatusEnum": "apps.threats.choices.MitigationStatus",
        "AcceptanceStatusEnum": "apps.threats.choices.AcceptanceStatus",
        "SuggestionStatusEnum": "apps.threats.choices.SuggestionStatus",
    },
}

# --- Celery -----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or (
    f"file://{DATA_DIR / 'celery-results'}"
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "celery-broker" / "queue"
    _processed_dir = DATA_DIR / "celery-broker" / "processed"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        # Queue bindings live beside the queue, not in whatever folder a process started in.
        "control_folder": str(DATA_DIR / "celery-broker" / "control"),
        "store_processed": False,
    }
else:
    # Tasks run at most MLGOV_TASK_HARD_TIME_LIMIT seconds; the broker must not redeliver a task
    # that is still running, so its visibility timeout sits well above the hard limit.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=7200),
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("MLGOV_TASK_SOFT_TIME_LIMIT", default=1800)
CELERY_TASK_TIME_LIMIT = env.int("MLGOV_TASK_HARD_TIME_LIMIT", default=1900)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Logging ----------------------------------------------------------------------------------
LOG_LEVEL = env.str("MLGOV_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apps.core.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "apps.core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": env.str("MLGOV_LOG_FORMAT", default="plain"),
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # axes logs every sign-in at INFO; lock-outs (WARNING) are what an operator needs.
        "axes": {"level": "WARNING"},
    },
}

# --- Audit trail ------------------------------------------------------------------------------
# Reverse proxies in front of mlgov that append to X-Forwarded-For: the audit trail records the
# address they saw. 0 (default) records REMOTE_ADDR, which a client cannot forge.
MLGOV_TRUSTED_PROXY_COUNT = env.int("MLGOV_TRUSTED_PROXY_COUNT", default=0)

# --- Threat modeling --------------------------------------------------------------------------
# Risk = likelihood x impact, each on a 1-5 scale (labels below); the score (1-25) falls in the
# band of the highest threshold it reaches. Thresholds are configurable; band names are fixed
# (low, medium, high, critical) because completeness rules and colours key on them.
MLGOV_RISK_LIKELIHOOD_LABELS = ["Rare", "Unlikely", "Possible", "Likely", "Almost certain"]
MLGOV_RISK_IMPACT_LABELS = ["Negligible", "Minor", "Moderate", "Major", "Severe"]
MLGOV_RISK_BANDS = [(1, "low"), (5, "medium"), (10, "high"), (17, "critical")]
# Evidence files attached to applied mitigations (bigger uploads are refused with 413).
MLGOV_MAX_EVIDENCE_BYTES = env.int("MLGOV_MAX_EVIDENCE_BYTES", default=50 * 1024**2)
# A risk acceptance may not run longer than this many days from its request.
MLGOV_RISK_ACCEPTANCE_MAX_DAYS = env.int("MLGOV_RISK_ACCEPTANCE_MAX_DAYS", default=366)
# Beat re-opens threats whose risk acceptance has expired (reads also treat them as open).
CELERY_BEAT_SCHEDULE = {
    **globals().get("CELERY_BEAT_SCHEDULE", {}),
    "threats-acceptances-expire": {
        "task": "threats.acceptances_expire",
        "schedule": timedelta(hours=1),
    },
}

# --- Security (tightened further in production.py) --------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the upload script reads it to send X-CSRFToken
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Content-Security-Policy (django-csp): scripts and styles only from our own static files (no
# inline code, no eval), nothing embeds our pages, forms post only to us. data: images are the
# icons inside the Swagger UI stylesheet.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# Browser features no mlgov page uses (apps.core.middleware.SecurityHeadersMiddleware).
MLGOV_PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), "
    "magnetometer=(), microphone=(), payment=(), usb=()"
)

# --- Scans ------------------------------------------------------------------------------------
# Registering a model version queues its scans (turn off where no worker runs, e.g. bulk imports).
MLGOV_AUTO_SCAN_ON_REGISTER = env.bool("MLGOV_AUTO_SCAN_ON_REGISTER", default=True)
# Package indexes the supply-chain scanner accepts as sources of a model's dependencies.
MLGOV_ALLOWED_PACKAGE_INDEXES = env.list(
    "MLGOV_ALLOWED_PACKAGE_INDEXES", default=["https://pypi.org/simple"]
)
# A scan that no worker has taken after this many hours is marked failed.
MLGOV_SCAN_QUEUE_TIMEOUT_HOURS = env.int("MLGOV_SCAN_QUEUE_TIMEOUT_HOURS", default=24)
# Bounds of the unsafe-artifact scanner on one artifact (apps.scans.artifact.Limits). A limit
# reached ends that part of the scan with a medium "not fully scanned" finding, never a crash:
# total bytes decompressed (zip/gzip bombs), output/input ratio treated as a bomb (checked once a
# stream has produced 32 MiB), containers nested in containers, and wall-clock seconds per
# artifact (keep it well below MLGOV_TASK_SOFT_TIME_LIMIT: the other scanners share the task).
MLGOV_ARTIFACT_SCAN_MAX_DECOMPRESSED_BYTES = env.int(
    "MLGOV_ARTIFACT_SCAN_MAX_DECOMPRESSED_BYTES", default=1024**3
)
MLGOV_ARTIFACT_SCAN_MAX_RATIO = env.int("MLGOV_ARTIFACT_SCAN_MAX_RATIO", default=1000)
MLGOV_ARTIFACT_SCAN_MAX_NESTING = env.int("MLGOV_ARTIFACT_SCAN_MAX_NESTING", default=10)
MLGOV_ARTIFACT_SCAN_TIME_LIMIT_SECONDS = env.int(
    "MLGOV_ARTIFACT_SCAN_TIME_LIMIT_SECONDS", default=300
)
# Test-only scanners for the fault-injection tests' workers; never on in a real installation.
MLGOV_TEST_SCANNERS = env.bool("MLGOV_TEST_SCANNERS", default=False)

# --- Product behaviour ------------------------------------------------------------------------
MLGOV_DEMO_PASSWORD_PRINTING = env.bool("MLGOV_DEMO_PASSWORD_PRINTING", default=True)
MLGOV_DEMO_PASSWORD = env.str("MLGOV_DEMO_PASSWORD", default="")
