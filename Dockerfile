# Feedlens image: the web app (gunicorn), the Celery worker and Celery beat all run from it.
# docker-compose.yml builds it and says which process each service runs.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: compilers exist only in this stage; the final image gets the installed packages.
FROM ${PYTHON_IMAGE} AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*

# llama.cpp (built from source by llama-cpp-python) compiles with -march=native by default, so a
# binary built on the build machine's CPU can die with "illegal instruction" on the machine that
# runs the image. Build portable code instead (a CUDA image adds -DGGML_CUDA=on here).
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF"
# pip's wheel cache ignores CMAKE_ARGS: never reuse a wheel built with other flags. No cache
# also keeps the layers small.
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# An extra index for pip, given at build time and never stored here: e.g. PyTorch's CPU-only
# wheels, so that torch does not pull the CUDA libraries (docker build --build-arg ...).
ARG PIP_EXTRA_INDEX_URL
# Requirements to install before the project's, e.g. "torch==2.13.0" from the CPU index above:
# once it is there, sentence-transformers does not pull a CUDA build of torch.
ARG PRE_INSTALL=""

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip
RUN if [ -n "$PRE_INSTALL" ]; then pip install $PRE_INSTALL; fi

# Dependencies come from pyproject.toml; this layer is rebuilt only when that file changes.
# setuptools is for the editable install of the project below (70.1+ needs no `wheel`).
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt "setuptools>=70.1"

# ---- runtime
FROM ${PYTHON_IMAGE}

# libgomp1: the OpenMP runtime that llama.cpp and torch link against (no compilers here).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --user-group --uid 10001 feedlens

COPY --from=build /opt/venv /opt/venv

# HF_HUB_OFFLINE: the models come from installed packages; nothing is downloaded at run time.
# FEEDLENS_VAR_DIR: uploads, the model cache and (without DATABASE_URL) SQLite; compose mounts
# a volume there. STATIC_ROOT lies outside it: a volume would hide the files collected below
# and keep serving an older build's.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    FEEDLENS_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app
COPY manage.py pyproject.toml README.md ./
COPY feedlens feedlens
COPY accounts accounts
COPY ingestion ingestion
COPY insights insights
COPY alerts alerts
COPY llm llm
COPY templates templates
COPY static static
COPY docker docker

# Editable, without dependencies (installed above): settings find templates/ and static/ beside
# the packages, which a plain `pip install .` into site-packages would leave behind.
# collectstatic needs a SECRET_KEY to load the settings: a throwaway one for this line only.
# The var folder belongs to the app user, so that a new volume mounted on it does too.
RUN pip install --no-deps --no-build-isolation -e . \
    && SECRET_KEY=build-only DEBUG=false python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/var \
    && chown feedlens:feedlens /app/var

USER feedlens
EXPOSE 8000
CMD ["gunicorn", "feedlens.wsgi:application", "--bind", "0.0.0.0:8000"]
