"""The deployment files (docker-compose.yml, Dockerfile, docker/entrypoint.sh, .env.example)
agree with the code: every variable they set is read by the settings, every command points at
real code, and the web app and the worker share the folder uploads go to.

No Docker engine is needed: the files are parsed, and the settings are loaded in a fresh
interpreter with the environment a container would get.
"""

import functools
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import dj_database_url
import pytest
import yaml
from celery.app.utils import find_app
from celery.beat import Scheduler
from django.conf import settings
from kombu.utils.imports import symbol_by_name

import feedlens

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
ENV_EXAMPLE = ROOT / ".env.example"
APP_SERVICES = ("web", "worker", "ml-worker", "embedding-worker", "llm-worker", "beat")
WORKERS = ("worker", "ml-worker", "embedding-worker", "llm-worker")
# The analysis's workers: the models in memory, one task at a time.
MODEL_WORKERS = ("ml-worker", "embedding-worker", "llm-worker")
ESSENTIAL_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS")
# Read by docker compose to configure the postgres service, never by the app.
COMPOSE_ONLY_PREFIX = "POSTGRES_"
PLACEHOLDER = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
FALSE_WORDS = ("0", "false", "no", "off")


# ---- reading the files


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def substitute(value: str) -> str:
    """Return value with compose's ${VAR...} filled in: the default where one is given,
    else a dummy made from the name (the same dummy wherever the variable appears)."""

    def fill(match: re.Match[str]) -> str:
        if match["op"] in (":-", "-"):
            return match["arg"]
        return f"dummy{match['name'].lower().replace('_', '')}"

    return PLACEHOLDER.sub(fill, value).replace("$$", "$")


def raw_environment(name: str) -> dict[str, str]:
    """Return a service's environment as written, before substitution."""
    environment = service(name).get("environment") or {}
    if isinstance(environment, list):
        environment = dict(entry.split("=", 1) for entry in environment)
    return {key: str(value) for key, value in environment.items()}


def environment(name: str) -> dict[str, str]:
    return {key: substitute(value) for key, value in raw_environment(name).items()}


def command(name: str) -> list[str]:
    value = service(name)["command"]
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def option(args: list[str], *names: str) -> str:
    """Return the value of a command-line option given as `--name value` or `--name=value`."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name:
                return args[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    raise AssertionError(f"none of {names} in {args}")


def volume_mounts(name: str) -> dict[str, str]:
    """Return a service's mounts as {target: source}."""
    mounts = {}
    for volume in service(name).get("volumes", []):
        if isinstance(volume, dict):
            mounts[volume["target"]] = volume.get("source", "")
        else:
            source, target, *_ = volume.split(":")
            mounts[target] = source
    return mounts


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return the Dockerfile's instructions as (INSTRUCTION, arguments), comments dropped."""
    instructions: list[tuple[str, str]] = []
    current = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue  # comments, also inside continued instructions, as Docker reads them
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, arguments = current.strip().partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Return the instructions of each stage, each list starting with its FROM."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, arguments))
    return stages


def base_image(stage: list[tuple[str, str]]) -> str:
    """Return the image a stage starts from, with the ARGs declared before FROM filled in."""
    global_args = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "FROM":
            break
        if keyword == "ARG" and "=" in arguments:
            global_args.update([arguments.split("=", 1)])
    image = stage[0][1].split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda match: global_args[match[1]], image)


def dockerfile_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in stage:
        if keyword != "ENV":
            continue
        words = shlex.split(arguments)
        if all("=" in word for word in words):
            env.update(word.split("=", 1) for word in words)
        else:  # the legacy form: ENV NAME value
            env[words[0]] = " ".join(words[1:])
    return env


def env_example() -> list[tuple[str, str, str]]:
    """Return .env.example's assignments as (name, value, the comment line above it)."""
    entries = []
    previous = ""
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
        if match:
            entries.append((match[1], match[2], previous))
        previous = line
    return entries


# ---- what the code reads


def run_settings(env: dict[str, str], code: str) -> str:
    """Import the settings in a fresh interpreter with exactly env; return what code prints."""
    result = subprocess.run(
        [sys.executable, "-c", f"import feedlens.settings as s\n{code}"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@functools.cache
def variables_read() -> frozenset[str]:
    """Return the variables the settings module reads, with DEBUG on and off.

    Read in fresh interpreters: the settings of this one loaded long ago, and other tests have
    since added names of their own to its VARIABLES_READ.
    """
    names: set[str] = set()
    code = "from feedlens.env import VARIABLES_READ; print(' '.join(VARIABLES_READ))"
    for debug in ("true", "false"):
        env = {"DEBUG": debug, "SECRET_KEY": "test-only", "FEEDLENS_VAR_DIR": "/nonexistent"}
        env["DATABASE_URL"] = "postgres://user@localhost/db"
        names.update(run_settings(env, code).split())
    assert {"SECRET_KEY", "DATABASE_URL", "FEEDLENS_VAR_DIR"} <= names
    return frozenset(names)


def is_read(name: str) -> bool:
    return name in variables_read() or (
        name.endswith("_FILE") and name.removesuffix("_FILE") in variables_read()
    )


def container_settings(name: str) -> dict[str, Any]:
    """Return settings as a service's container loads them: the image's ENV, then compose's."""
    env = {**dockerfile_env(dockerfile_stages()[-1]), **environment(name)}
    env.pop("PATH", None)
    code = (
        "import json; print(json.dumps({'DEBUG': s.DEBUG, 'VAR_DIR': str(s.VAR_DIR),"
        " 'MEDIA_ROOT': str(s.MEDIA_ROOT), 'MODEL_CACHE_DIR': str(s.MODEL_CACHE_DIR),"
        " 'STATIC_ROOT': str(s.STATIC_ROOT), 'EAGER': s.CELERY_TASK_ALWAYS_EAGER,"
        " 'ENGINE': s.DATABASES['default']['ENGINE'], 'BROKER': s.CELERY_BROKER_URL}))"
    )
    return json.loads(run_settings(env, code))


# ---- docker-compose.yml: services and environment


def test_compose_defines_the_six_services() -> None:
    assert {"postgres", "redis", *APP_SERVICES} <= set(compose()["services"])
    assert service("postgres")["image"].startswith("postgres:16")
    assert service("redis")["image"].startswith("redis:7")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_repository_dockerfile(name: str) -> None:
    build = service(name)["build"]
    if isinstance(build, str):
        build = {"context": build}
    path = COMPOSE_FILE.parent / build.get("context", ".") / build.get("dockerfile", "Dockerfile")
    assert path.resolve() == DOCKERFILE


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_set_only_variables_the_settings_read(name: str) -> None:
    assert "env_file" not in service(name), "env_file would pass on variables the app ignores"
    unread = [key for key in raw_environment(name) if not is_read(key)]
    assert not unread, f"{name} sets variables no code reads: {unread}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_essential_variables_are_set_and_debug_is_off(name: str) -> None:
    env = environment(name)
    assert all(env.get(key) for key in ESSENTIAL_VARIABLES), env
    assert env["DEBUG"].lower() in FALSE_WORDS
    assert env.get("FEEDLENS_EAGER_TASKS", "false").lower() in FALSE_WORDS


def test_secrets_must_come_from_the_host() -> None:
    """No default secret: compose refuses to start without one."""
    for name in APP_SERVICES:
        assert re.fullmatch(r"\$\{SECRET_KEY:\?.+\}", raw_environment(name)["SECRET_KEY"])
    password = raw_environment("postgres")["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?.+\}", password)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_database_url_points_at_the_postgres_service(name: str) -> None:
    database = dj_database_url.parse(environment(name)["DATABASE_URL"])
    postgres = environment("postgres")
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert database["HOST"] == "postgres"
    assert database["PORT"] in ("", None, 5432)
    assert database["NAME"] == postgres["POSTGRES_DB"]
    assert database["USER"] == postgres["POSTGRES_USER"]
    assert database["PASSWORD"] == postgres["POSTGRES_PASSWORD"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_redis_url_points_at_the_redis_service(name: str) -> None:
    url = urllib.parse.urlparse(environment(name)["REDIS_URL"])
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert url.port in (None, 6379)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(name: str) -> None:
    depends_on = service(name)["depends_on"]
    for backing in ("postgres", "redis"):
        assert depends_on[backing]["condition"] == "service_healthy"
        assert service(backing)["healthcheck"]["test"]


def test_worker_and_beat_start_after_the_web_service_migrated() -> None:
    """The web service migrates before gunicorn listens, and is healthy once it answers."""
    for name in (*WORKERS, "beat"):
        assert service(name)["depends_on"]["web"]["condition"] == "service_healthy"
    workdir = [args for keyword, args in dockerfile_stages()[-1] if keyword == "WORKDIR"][-1]
    entrypoint = service("web")["entrypoint"]
    assert Path(entrypoint[-1]) == Path(workdir) / ENTRYPOINT.relative_to(ROOT)
    static_url = next(word for word in service("web")["healthcheck"]["test"] if "/static/" in word)
    path = re.search(r"/static/([^'\"]+)", static_url)[1]  # type: ignore[index]
    assert any((Path(folder) / path).is_file() for folder in project_static_dirs())


@pytest.mark.parametrize("name", APP_SERVICES)
def test_settings_load_with_the_container_environment(name: str) -> None:
    loaded = container_settings(name)
    assert loaded["DEBUG"] is False
    assert loaded["EAGER"] is False
    assert loaded["ENGINE"] == "django.db.backends.postgresql"
    assert urllib.parse.urlparse(loaded["BROKER"]).hostname == "redis"


def test_web_and_worker_share_the_folder_the_settings_write_to() -> None:
    loaded = container_settings("worker")
    assert container_settings("web")["VAR_DIR"] == loaded["VAR_DIR"]
    var_dir = Path(loaded["VAR_DIR"])
    sources = {volume_mounts(name).get(str(var_dir)) for name in ("web", *WORKERS)}
    assert len(sources) == 1, f"web and worker mount different things at {var_dir}: {sources}"
    (source,) = sources
    assert source in compose()["volumes"], f"{var_dir} is not on a named volume"
    # Uploads and the model cache must be on the shared volume...
    for key in ("MEDIA_ROOT", "MODEL_CACHE_DIR"):
        assert Path(loaded[key]).is_relative_to(var_dir), key
    # ...and the static files baked into the image must not be hidden under it.
    assert not Path(loaded["STATIC_ROOT"]).is_relative_to(var_dir)


# ---- docker-compose.yml: commands point at real code


def test_gunicorn_serves_the_wsgi_application_on_the_published_port() -> None:
    args = command("web")
    assert args[0] == "gunicorn"
    target = next(arg for arg in args[1:] if not arg.startswith("-") and ":" in arg)
    module_name, attribute = target.split(":")
    assert f"{module_name}.{attribute}" == settings.WSGI_APPLICATION
    assert callable(getattr(importlib.import_module(module_name), attribute))
    host, port = option(args, "--bind", "-b").rsplit(":", 1)
    assert host == "0.0.0.0"  # noqa: S104 - inside the container
    assert any(str(mapping).endswith(f":{port}") for mapping in service("web")["ports"])


@pytest.mark.parametrize("name", (*WORKERS, "beat"))
def test_celery_app_resolves_to_the_feedlens_celery_app(name: str) -> None:
    args = command(name)
    assert args[0] == "celery"
    assert find_app(option(args, "-A", "--app")) is feedlens.celery_app


def test_beat_uses_the_database_scheduler_the_settings_name() -> None:
    scheduler = option(command("beat"), "--scheduler", "-S")
    assert scheduler == settings.CELERY_BEAT_SCHEDULER
    assert issubclass(symbol_by_name(scheduler), Scheduler)


@pytest.mark.parametrize("name", WORKERS)
def test_worker_prefetch_multiplier_matches_the_settings(name: str) -> None:
    args = command(name)
    assert "worker" in args
    prefetch = int(option(args, "--prefetch-multiplier"))
    assert prefetch == settings.CELERY_WORKER_PREFETCH_MULTIPLIER
    assert int(option(args, "--concurrency", "-c")) >= 1


def queues_read(name: str) -> set[str]:
    return set(option(command(name), "--queues", "-Q").split(","))


def container_routes(name: str) -> dict[str, str]:
    """The queue of each routed task and the default queue, as the service's settings say."""
    code = (
        "import json; print(json.dumps({'default': s.CELERY_TASK_DEFAULT_QUEUE,"
        " **{task: route['queue'] for task, route in s.CELERY_TASK_ROUTES.items()}}))"
    )
    return json.loads(run_settings(environment(name), code))


def test_the_workers_read_every_queue_tasks_are_sent_to() -> None:
    read = set().union(*(queues_read(name) for name in WORKERS))
    for name in APP_SERVICES:
        assert set(container_routes(name).values()) == read, name


@pytest.mark.parametrize("name", MODEL_WORKERS)
def test_model_work_runs_one_task_at_a_time_on_workers_of_its_own(name: str) -> None:
    assert int(option(command(name), "--concurrency", "-c")) == 1
    routes = container_routes(name)
    assert (
        queues_read(name) & {routes["default"], routes["insights.send_scheduled_report"]} == set()
    )


def test_each_stage_of_a_run_has_a_worker_service_of_its_own() -> None:
    routes = container_routes("ml-worker")
    assert queues_read("ml-worker") == {routes["insights.*"]}  # the run and its other stages
    vector_work = {routes["insights.embed_chunk"], routes["insights.assign_chunk"]}
    model_work = {
        routes["insights.score_chunk"],
        routes["insights.predict_chunk"],
        routes["insights.describe_chunk"],
    }
    assert queues_read("embedding-worker") == vector_work
    assert queues_read("llm-worker") == model_work
    assert len(vector_work | model_work) == 2


# ---- .env.example


def test_env_example_lists_exactly_the_variables_the_code_reads() -> None:
    names = [name for name, _, _ in env_example()]
    assert len(names) == len(set(names)), "a variable is listed twice"
    app_names = {name for name in names if not name.startswith(COMPOSE_ONLY_PREFIX)}
    assert variables_read() - app_names == set(), "missing from .env.example"
    assert {name for name in app_names if not is_read(name)} == set(), "never read"
    assert "POSTGRES_PASSWORD" in names


def test_env_example_explains_each_variable_and_holds_no_real_secret() -> None:
    entries = env_example()
    uncommented = [name for name, _, comment in entries if not comment.startswith("# ")]
    assert not uncommented, f"no comment line above {uncommented}"
    values = {name: value for name, value, _ in entries}
    assert values["SECRET_KEY"].startswith("change-me")
    assert values["POSTGRES_PASSWORD"].startswith("change-me")


def test_env_example_values_are_accepted_by_the_settings() -> None:
    env = {name: value for name, value, _ in env_example()}
    code = "print(s.DEBUG, s.FEEDLENS_MAX_UPLOAD_BYTES > 0, s.ALLOWED_HOSTS[0])"
    assert run_settings(env, code).split() == ["False", "True", "feedback.example.com"]


# ---- Dockerfile and entrypoint


def test_dockerfile_builds_llama_cpp_portably_and_runs_offline() -> None:
    stages = dockerfile_stages()
    installs_with_portable_flags = any(
        "-DGGML_NATIVE=OFF" in dockerfile_env(stage).get("CMAKE_ARGS", "")
        and any(kw == "RUN" and "pip install" in args for kw, args in stage)
        for stage in stages
    )
    assert installs_with_portable_flags
    assert dockerfile_env(stages[-1])["HF_HUB_OFFLINE"] == "1"
    assert base_image(stages[-1]) == "python:3.11-slim"


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [args for keyword, args in dockerfile_stages()[-1] if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_bakes_in_no_secret_and_names_no_package_index() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"https?://|--(extra-)?index-url", text)
    final = dockerfile_stages()[-1]
    assert "SECRET_KEY" not in dockerfile_env(final)
    assert not any(kw == "ARG" and "SECRET_KEY" in args for kw, args in dockerfile_instructions())
    collectstatic = [args for kw, args in final if kw == "RUN" and "collectstatic" in args]
    assert collectstatic and "SECRET_KEY=" in collectstatic[0]
    assert ("EXPOSE", "8000") in final


# Developer tooling (benchmark, evaluation): never in the production image.
DEV_ONLY_PACKAGES = {"devtools"}


def test_dockerfile_copies_every_package_and_asset() -> None:
    """A new Django app or top-level folder the settings use must reach the image too, and
    the developer tooling must not."""
    copied: set[str] = set()
    for keyword, arguments in dockerfile_stages()[-1]:
        if keyword == "COPY" and "--from" not in arguments:
            copied.update(Path(word).name for word in arguments.split()[:-1])
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {
        path.name
        for path in ROOT.iterdir()
        if (path / "__init__.py").is_file() and any(fnmatch(path.name, p) for p in patterns)
    }
    assets = {Path(folder).name for folder in project_static_dirs()}
    assets |= {Path(folder).name for template in settings.TEMPLATES for folder in template["DIRS"]}
    needed = packages | assets | {"manage.py", "pyproject.toml", ENTRYPOINT.parent.name}
    assert needed - DEV_ONLY_PACKAGES - copied == set()
    assert packages >= DEV_ONLY_PACKAGES
    assert DEV_ONLY_PACKAGES & copied == set()


def project_static_dirs() -> list[str]:
    """The project's own static folders; (prefix, folder) entries come from installed
    packages (plotly.js), which the image gets by installing the project."""
    return [folder for folder in settings.STATICFILES_DIRS if not isinstance(folder, tuple)]


@pytest.fixture
def fake_python(tmp_path: Path) -> dict[str, str]:
    """A `python` on PATH that logs its arguments and fails its first FAILURES database
    checks, and a `sleep` that returns at once; returns the environment to run them with."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").write_text(
        "#!/bin/sh\n"
        'echo "$*" >> "$LOG"\n'
        'case "$*" in *migrate*) exit 0 ;; esac\n'
        'count=$(($(cat "$COUNTER" 2>/dev/null || echo 0) + 1))\n'
        'echo "$count" > "$COUNTER"\n'
        '[ "$count" -gt "$FAILURES" ]\n'
    )
    (bin_dir / "sleep").write_text("#!/bin/sh\nexit 0\n")
    for stub in bin_dir.iterdir():
        stub.chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "LOG": str(tmp_path / "calls.log"),
        "COUNTER": str(tmp_path / "count"),
    }


def run_entrypoint(env: dict[str, str], failures: int) -> subprocess.CompletedProcess[str]:
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no sh to run the entrypoint with")
    return subprocess.run(
        [sh, str(ENTRYPOINT), "echo", "served"],
        env={**env, "FAILURES": str(failures)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_entrypoint_waits_for_the_database_then_migrates_then_execs(
    fake_python: dict[str, str],
) -> None:
    assert "set -eu" in ENTRYPOINT.read_text()
    result = run_entrypoint(fake_python, failures=3)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "served"
    calls = Path(fake_python["LOG"]).read_text().splitlines()
    assert len(calls) == 5
    assert all(call.startswith("manage.py") for call in calls)
    assert "migrate --noinput" in calls[-1]
    assert not any("migrate" in call for call in calls[:-1])


def test_entrypoint_gives_up_after_a_bounded_number_of_tries(
    fake_python: dict[str, str],
) -> None:
    result = run_entrypoint(fake_python, failures=10_000)
    assert result.returncode != 0
    assert "served" not in result.stdout
    calls = Path(fake_python["LOG"]).read_text().splitlines()
    assert 2 <= len(calls) <= 100
    assert not any("migrate" in call for call in calls)
