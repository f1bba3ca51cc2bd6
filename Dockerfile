# golive: the ChatOps go-live bot. Build: docker build -t golive .
# Run (Socket Mode): docker run --env-file golive.env golive
# Run (HTTP events): docker run -p 3000:3000 --env-file golive.env golive serve --http
FROM python:3.11-slim-trixie

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GOLIVE_LOG_FORMAT=json \
    GOLIVE_HTTP_PORT=3000 \
    GOLIVE_STATE_DIR=/var/lib/golive

# pg_dump / pg_restore / psql for the backup checks. pg_dump refuses to dump a server of a newer major version,
# so the client must be at least as new as the newest server golive supports (README, "Running the bot in a
# container"): Debian 13 (trixie) ships postgresql-client-17 in its own main archive, so no third-party
# repository is needed (bookworm's was 15). curl for the HEALTHCHECK.
ARG PG_CLIENT_MAJOR=17
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl ca-certificates "postgresql-client-${PG_CLIENT_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies are pinned: requirements.lock (scripts/lock-deps.sh, from pyproject.toml) is installed
# first, in its own layer, so a build today and one next month get the same versions. The package itself
# then installs without resolving anything again.
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY checks ./checks
COPY checklists ./checklists
COPY bot ./bot
# The lock holds the Microsoft Teams transport too (EXTRAS=teams); --build-arg EXTRAS= leaves it unused.
ARG EXTRAS=teams
RUN pip install --no-deps ".${EXTRAS:+[$EXTRAS]}" && rm -rf /root/.cache

RUN groupadd --system --gid 10001 golive \
    && useradd --system --uid 10001 --gid golive --home-dir /var/lib/golive --shell /usr/sbin/nologin golive \
    && mkdir -p /var/lib/golive \
    && chown -R golive:golive /var/lib/golive
USER 10001:10001
WORKDIR /var/lib/golive

EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${GOLIVE_HTTP_PORT:-3000}/healthz/live" || exit 1

ENTRYPOINT ["golive"]
CMD ["serve"]
