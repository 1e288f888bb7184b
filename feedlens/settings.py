"""Feedlens settings: everything comes from the environment, with safe defaults.

`.env.example` lists every variable read here. Code reads `settings.X`, never `os.environ`.
"""

import ipaddress
from datetime import timedelta
from importlib.util import find_spec
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from feedlens.env import envbool, envint, envlist, envpath, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
# Everything the app writes (SQLite file, uploads, model cache) lives here; it is git-ignored.
VAR_DIR = envpath("FEEDLENS_VAR_DIR", BASE_DIR / "var")

DEBUG = envbool("DEBUG", "false")
SECRET_KEY = envstr("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (or SECRET_KEY_FILE) unless DEBUG is on")
    SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "axes",
    "ingestion",
    "insights",
    "alerts",
    "accounts",
]
# Developer tooling (make bench, make eval) where the source tree has it; the production
# image does not copy it.
if find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "feedlens.middleware.ContentSecurityPolicyMiddleware",
    "feedlens.middleware.PrivatePagesMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in with its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "feedlens.urls"
WSGI_APPLICATION = "feedlens.wsgi.application"

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
                "insights.dashboards.filters.kept_project",
                "alerts.views.recent_alerts",
            ],
        },
    },
]

DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'feedlens.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite creates its file but not the folder; the embedded default must work from a clone.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Tests share the SQLite test database with a Celery worker in another process,
    # so it must be a file, not the in-memory default.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-feedlens.sqlite3")}
    # The importer and the web app write at once; wait for the lock instead of failing.
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "insights:overview"
LOGOUT_REDIRECT_URL = "login"

# ---- Throttling of sign-ins (django-axes) and of the mail anyone can make us send
# django-axes checks every sign-in first (its backend) and counts the failures in the
# database: after FEEDLENS_LOGIN_FAILURE_LIMIT wrong passwords for one account, or from one
# client address, sign-in there is refused (429, accounts.views.locked_out) for the cool-off,
# even with the right password. Failures count for the cool-off after them; a success does
# not reset them (it would reset those of its address, so an attacker with an account of
# their own could guess another's password without end).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("FEEDLENS_LOGIN_FAILURE_LIMIT", "10")
AXES_COOLOFF_TIME = timedelta(minutes=envint("FEEDLENS_LOGIN_COOLOFF_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
# The addresses or networks of the proxies in front of the app (a TLS proxy): a request from
# one of them is counted by the client address it appends to X-Forwarded-For, or every
# client would share the proxy's address and its limits. Never a network clients are on.
FEEDLENS_TRUSTED_PROXIES = envlist("FEEDLENS_TRUSTED_PROXIES", "")
for _proxy in FEEDLENS_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _error:
        raise ImproperlyConfigured(f"FEEDLENS_TRUSTED_PROXIES: {_error}") from _error
AXES_CLIENT_IP_CALLABLE = "accounts.throttle.client_address"
# Password resets to one address, and reset mails asked for from one client address, in an
# hour (accounts.throttle); invitations to one address in an hour.
FEEDLENS_RESET_MAILS_PER_ADDRESS = envint("FEEDLENS_RESET_MAILS_PER_ADDRESS", "3")
FEEDLENS_RESET_MAILS_PER_CLIENT = envint("FEEDLENS_RESET_MAILS_PER_CLIENT", "20")
FEEDLENS_INVITATIONS_PER_ADDRESS = envint("FEEDLENS_INVITATIONS_PER_ADDRESS", "5")

STATIC_URL = "static/"
_PLOTLY = find_spec("plotly")
if _PLOTLY is None or _PLOTLY.origin is None:
    raise ImproperlyConfigured("plotly is not installed: pip install the project again")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # plotly.js comes from the plotly package itself, so pages never fetch it from a CDN.
    ("vendor/plotly", Path(_PLOTLY.origin).parent / "package_data"),
]
STATIC_ROOT = envpath("STATIC_ROOT", VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    # Serve straight from static/ without collectstatic in the embedded demo.
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = envpath("MEDIA_ROOT", VAR_DIR / "media")

# Uploads larger than this spill to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FEEDLENS_MAX_UPLOAD_BYTES = envint("FEEDLENS_MAX_UPLOAD_MB", "1024") * 1024 * 1024
FEEDLENS_WEBHOOK_MAX_BYTES = envint("FEEDLENS_WEBHOOK_MAX_KB", "5120") * 1024
FEEDLENS_MAX_ITEM_CHARS = envint("FEEDLENS_MAX_ITEM_CHARS", "20000")
FEEDLENS_DATASETS_DIR = envpath("FEEDLENS_DATASETS_DIR", BASE_DIR.parent / "shared" / "datasets")

SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", "false")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Served over HTTPS (production, README "Deploying"): plain-HTTP requests are redirected to
# HTTPS, and browsers told to use HTTPS only for SECURE_HSTS_SECONDS. Behind a proxy that
# ends TLS, SECURE_PROXY_SSL_HEADER=true trusts its X-Forwarded-Proto to say a request was
# HTTPS (without it every request would look plain and be redirected forever).
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
if envbool("SECURE_PROXY_SSL_HEADER", "false"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The compose health check fetches this file over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^static/img/favicon\.svg$"]

# Celery: Redis broker; JSON only; late acknowledgement so a killed worker loses nothing.
REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ALWAYS_EAGER = envbool("FEEDLENS_EAGER_TASKS", "false")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_DEFAULT_QUEUE", "feedlens")
# Model work has its own queue and workers: they hold the models in memory, one task at a time.
CELERY_ML_QUEUE = envstr("CELERY_ML_QUEUE", "feedlens-ml")
CELERY_TASK_ROUTES = {"insights.*": {"queue": CELERY_ML_QUEUE}}
CELERY_TASK_TIME_LIMIT = envint("CELERY_TASK_TIME_LIMIT", "7200")
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
# A task whose worker died is handed out again after this many seconds. It must be longer
# than the longest task runs, or Redis hands a running task out twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", str(CELERY_TASK_TIME_LIMIT + 600))
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The database scheduler installs these entries; admins may change them in the admin.
CELERY_BEAT_SCHEDULE = {
    "analyse-new-feedback": {
        "task": "insights.analyse_new_items",
        "schedule": 60.0 * envint("FEEDLENS_ANALYSE_EVERY_MINUTES", "10"),
    },
    "recluster-themes": {
        "task": "insights.recluster",
        "schedule": crontab(minute="0", hour=str(envint("FEEDLENS_RECLUSTER_HOUR", "3"))),
    },
}
CELERY_TIMEZONE = TIME_ZONE

# Long jobs (feedlens.jobs): the worker on a job extends its lease with every progress step.
# A job whose lease runs out (its worker died) is handed out again within a minute, instead
# of after CELERY_VISIBILITY_TIMEOUT; after FEEDLENS_JOB_MAX_ATTEMPTS claims it is failed.
# The lease must outlast the longest step that reports no progress (re-clustering every item).
FEEDLENS_JOB_LEASE_SECONDS = envint("FEEDLENS_JOB_LEASE_SECONDS", "600")
FEEDLENS_JOB_MAX_ATTEMPTS = envint("FEEDLENS_JOB_MAX_ATTEMPTS", "5")
if FEEDLENS_JOB_LEASE_SECONDS < 1 or FEEDLENS_JOB_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured(
        "FEEDLENS_JOB_LEASE_SECONDS and FEEDLENS_JOB_MAX_ATTEMPTS must be at least 1"
    )
CELERY_BEAT_SCHEDULE["requeue-expired-imports"] = {
    "task": "ingestion.requeue_expired_jobs",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["requeue-expired-insights-jobs"] = {
    "task": "insights.requeue_expired_jobs",
    "schedule": 60.0,
}

# ---- Polling connectors (ingestion.connectors) and the secrets in their configuration
# The key that encrypts source passwords and tokens at rest (any long random string).
# Production has no default: without it, saving or syncing a source that has a secret fails
# with a message that says so. The demo (DEBUG) derives one from SECRET_KEY instead.
FEEDLENS_SECRETS_KEY = envstr("FEEDLENS_SECRETS_KEY", "")
if not FEEDLENS_SECRETS_KEY and DEBUG:
    FEEDLENS_SECRETS_KEY = f"derived-from-secret-key:{SECRET_KEY}"
# Sources fetch from public addresses only (ingestion.connectors.network): never loopback,
# private, link-local or multicast ones, where the database, the broker and cloud metadata
# live. An API or mail server on the company's own network is allowed by naming its host
# or network here: "reviews.internal,10.20.0.0/16".
FEEDLENS_CONNECTOR_ALLOWED_HOSTS = envlist("FEEDLENS_CONNECTOR_ALLOWED_HOSTS", "")
# Each minute, queue a sync of every enabled polling source whose next sync time has come.
CELERY_BEAT_SCHEDULE["sync-due-sources"] = {
    "task": "ingestion.sync_due_sources",
    "schedule": 60.0,
}
# ---- end of polling connectors

# Reports (insights.reports) and the email that sends them. Reports cover whole days in
# FEEDLENS_REPORT_TIME_ZONE (empty: TIME_ZONE). Production sends through SMTP; the demo
# (DEBUG) writes each message to a file under var/emails instead.
FEEDLENS_REPORT_TIME_ZONE = envstr("FEEDLENS_REPORT_TIME_ZONE", "")
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Feedlens <feedlens@localhost>")
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = envpath("EMAIL_FILE_PATH", VAR_DIR / "emails")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", "25")
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "false")
# Seconds to wait for the mail server; a hung server must not hold a worker forever.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "30")
# Reports need no model: they run on the default queue, not behind the analysis.
CELERY_TASK_ROUTES["insights.send_scheduled_report"] = {"queue": CELERY_TASK_DEFAULT_QUEUE}
CELERY_TASK_ROUTES["insights.generate_report"] = {"queue": CELERY_TASK_DEFAULT_QUEUE}
# An analysis run's chunks (insights.pipeline.run): vector work (embedding, joining new
# items to themes) and the language model's (scoring, predicting from the scores,
# describing a theme) each have a queue, so that each has the workers it
# needs, on any machines (the language model wants the most cores). Both are the model
# queue unless set: then one kind of worker does everything. The run itself (clustering)
# stays on the model queue.
CELERY_EMBEDDING_QUEUE = envstr("CELERY_EMBEDDING_QUEUE", CELERY_ML_QUEUE)
CELERY_LLM_QUEUE = envstr("CELERY_LLM_QUEUE", CELERY_ML_QUEUE)
CELERY_TASK_ROUTES["insights.embed_chunk"] = {"queue": CELERY_EMBEDDING_QUEUE}
CELERY_TASK_ROUTES["insights.score_chunk"] = {"queue": CELERY_LLM_QUEUE}
CELERY_TASK_ROUTES["insights.predict_chunk"] = {"queue": CELERY_LLM_QUEUE}
CELERY_TASK_ROUTES["insights.assign_chunk"] = {"queue": CELERY_EMBEDDING_QUEUE}
CELERY_TASK_ROUTES["insights.describe_chunk"] = {"queue": CELERY_LLM_QUEUE}
# Items a chunk: a few seconds of one worker's work on 2 cores (embedding about 150 items/s,
# the language model about 12), so that claiming and finishing it (three queries) costs
# under 1 % and a worker that dies loses little. More for faster workers.
FEEDLENS_EMBED_CHUNK_ITEMS = envint("FEEDLENS_EMBED_CHUNK_ITEMS", "1024")
FEEDLENS_SCORE_CHUNK_ITEMS = envint("FEEDLENS_SCORE_CHUNK_ITEMS", "128")
# Predicting sentiment from the scores and embeddings, and joining new items to the nearest
# theme, need no model call. Measured on 2 cores (`manage.py benchmark --items 10000`,
# docs/benchmarks.md): predicting 300 items a second in a first run (it creates the rows),
# 1,800 after (a chunk: 17 s, then 3 s); assigning 3,000 a second (7 s). At most 30,000:
# SQLite takes 32,766 parameters a query.
FEEDLENS_PREDICT_CHUNK_ITEMS = envint("FEEDLENS_PREDICT_CHUNK_ITEMS", "5000")
FEEDLENS_ASSIGN_CHUNK_ITEMS = envint("FEEDLENS_ASSIGN_CHUNK_ITEMS", "20000")
# A chunk is seconds of work: one that takes longer than this is stuck, and fails its run.
FEEDLENS_CHUNK_TIME_LIMIT = envint("FEEDLENS_CHUNK_TIME_LIMIT", "900")
# Not behind a long analysis on the model queue: it must run every minute.
CELERY_TASK_ROUTES["insights.requeue_expired_jobs"] = {"queue": CELERY_TASK_DEFAULT_QUEUE}

# Local models. An empty path means the packaged default, assembled into MODEL_CACHE_DIR.
MODEL_CACHE_DIR = envpath("MODEL_CACHE_DIR", VAR_DIR / "models")
LLM_MODEL_PATH = envstr("LLM_MODEL_PATH", "")
LLM_N_GPU_LAYERS = envint("LLM_N_GPU_LAYERS", "0")
LLM_N_THREADS = envint("LLM_N_THREADS", "0")  # 0: the cores this process may use (llm.cores)
LLM_CONTEXT_SIZE = envint("LLM_CONTEXT_SIZE", "2048")
EMBEDDING_MODEL = envstr("EMBEDDING_MODEL", "")
# Language-model calls for sentiment in one analysis run (0: no cap): one a short item; a
# long item takes one for its whole text and one a sentence (insights.pipeline.units). Items
# beyond are predicted from their embeddings until a later run scores them: on two cores the
# model makes 10-25 calls a second, the embedding classifier predicts thousands of items.
SENTIMENT_LLM_CALLS_PER_RUN = envint("SENTIMENT_LLM_CALLS_PER_RUN", "2000")
# Semantic search (insights.pipeline.search_index): from this many embedded items up, the
# analysis run writes an HNSW index file into FEEDLENS_SEARCH_INDEX_DIR, which every web
# process memory-maps read-only (a folder the workers and web processes share); below it,
# each web process searches exactly, its vectors in memory.
FEEDLENS_SEARCH_INDEX_DIR = envpath("FEEDLENS_SEARCH_INDEX_DIR", VAR_DIR / "search-index")
FEEDLENS_SEARCH_INDEX_MIN_ITEMS = envint("FEEDLENS_SEARCH_INDEX_MIN_ITEMS", "20000")
# A re-cluster fits themes on at most this many points (a long item's units are points) of a
# project, sampled by source and week, and assigns the rest (insights.pipeline.themes).
FEEDLENS_CLUSTER_SAMPLE = envint("FEEDLENS_CLUSTER_SAMPLE", "200000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # django-axes announces its version at every start, in every command's output.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}
