# A small image with the core install only (validate, plan, apply, drift, export; no verify or
# emulator extras). Build: docker build -t reconciler .
# Run:   docker run --rm -e LAUNCHDARKLY_ACCESS_TOKEN -v "$PWD:/work" reconciler plan launchdarkly/
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY reconciler ./reconciler
RUN pip install --no-cache-dir . \
    && rm -rf /src \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin reconciler

USER reconciler
WORKDIR /work
ENTRYPOINT ["reconciler"]
CMD ["--help"]
