# Feedlens: `make demo` runs the product with demo data; `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The embedded demo: SQLite under var/, tasks run in the web process, DEBUG on.
DEMO_ENV := DEBUG=true FEEDLENS_EAGER_TASKS=true HF_HUB_OFFLINE=1
# Tests run with production-like settings: DEBUG off, a throwaway key.
TEST_ENV := DEBUG=false SECRET_KEY=test-only-not-secret HF_HUB_OFFLINE=1
# The quality evaluation: default SQLite settings, models from installed packages only.
EVAL_ENV := DEBUG=true HF_HUB_OFFLINE=1
# The speed benchmark: its own PostgreSQL database (dropped and created per size, so its
# name must contain "bench") and Redis for the worker it starts; production-like settings.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/feedlens_bench
BENCH_ENV := HF_HUB_OFFLINE=1 DEBUG=false SECRET_KEY=bench-only DATABASE_URL=$(BENCH_DATABASE_URL)

.PHONY: install demo serve test eval bench bench-large bench-pages bench-scale bench-fan-out lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama.cpp, compiled by llama-cpp-python (the one dependency built from source), is built
# for the CPU it compiles on (-march=native). On a CPU that reports AMX, that build died with
# "illegal instruction" at its first evaluation here (AMX tile loads in a VM), so AMX is left
# out; AVX-512 stays (sentiment scoring 8 items/s here, against 6 for a portable AVX2 build
# with -DGGML_NATIVE=OFF, which images built for other machines use). A GPU build adds e.g.
# -DGGML_CUDA=on. pip's wheel cache ignores CMAKE_ARGS: a wheel built earlier with other
# flags is reused as it is (pip cache remove llama_cpp_python clears it).
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_CMAKE_ARGS ?= -DCMAKE_C_FLAGS='$(NO_AMX)' -DCMAKE_CXX_FLAGS='$(NO_AMX)'

# Re-install when the dependency list changes.
# torch goes first: alone it takes the CPU build; pulled in by sentence-transformers, a
# CUDA build of several gigabytes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(DEMO_ENV) $(BIN)/python manage.py migrate --noinput -v0
	$(DEMO_ENV) $(BIN)/python manage.py load_demo
	$(DEMO_ENV) $(BIN)/python manage.py analyze
	@echo "Feedlens is at http://127.0.0.1:8000/ (log in as demo / feedlens-demo). Ctrl-C stops it."
	$(DEMO_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

test: install
	$(TEST_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The peers the evaluation compares with (BERTopic, VADER): never needed by the product.
$(VENV)/.installed-eval: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[eval]"
	touch $@

# Quality against peers on the public data sets; EVAL_ARGS=--quick skips the slowest peer.
eval: $(VENV)/.installed-eval
	$(EVAL_ENV) $(BIN)/python manage.py evaluate $(EVAL_ARGS)

# Speed on PostgreSQL with a real Celery worker: import and full analysis per size, theme
# discovery beside BERTopic's clustering stage, dashboard page times, then the pages at
# 100,000 items, then the shared search index over 100,000 vectors; writes var/bench/.
bench: install
	$(BENCH_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(BENCH_ENV) $(BIN)/python manage.py benchmark --items 1000 --items 10000 $(BENCH_ARGS)
	$(BENCH_ENV) $(BIN)/python manage.py benchmark --pages-only --items 100000 $(BENCH_ARGS)
	$(BENCH_ENV) $(BIN)/python manage.py benchmark_search --items 100000

# Dashboard page times alone at 100,000 items (stored with synthetic analysis rows).
bench-pages: install
	$(BENCH_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(BENCH_ENV) $(BIN)/python manage.py benchmark --pages-only --items 100000 $(BENCH_ARGS)

# The long runs of issue 21, not in CI (about four hours here): one analysis run of 20,000
# items on 1 and on 2 workers (one core each), the shared search index over a million
# vectors, the dashboard pages at a million items, and a million items through the whole
# pipeline on 2 workers.
bench-scale: install bench-fan-out
	$(BENCH_ENV) $(BIN)/python manage.py benchmark_search --items 1000000
	$(BENCH_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(BENCH_ENV) $(BIN)/python manage.py benchmark --pages-only --items 1000000 $(BENCH_ARGS)
	$(BENCH_ENV) $(BIN)/python manage.py benchmark_fan_out --items 1000000 --workers 2

bench-fan-out: install
	$(BENCH_ENV) $(BIN)/python manage.py benchmark_fan_out --items 20000 --workers 1 --workers 2

bench-large: install
	$(BENCH_ENV) $(BIN)/python manage.py collectstatic --noinput -v0
	$(BENCH_ENV) $(BIN)/python manage.py benchmark --items 100000 $(BENCH_ARGS)

# mypy loads the settings (django-stubs' plugin), which need a SECRET_KEY outside DEBUG.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(TEST_ENV) $(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var
