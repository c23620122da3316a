# prefcenter: one image for every process (web, both Celery workers, beat, one-off commands).
FROM python:3.11-slim

# FORWARDED_ALLOW_IPS: the container is reached only through the proxy / load balancer in front
# of it, so gunicorn trusts its X-Forwarded-* headers (Django reads X-Forwarded-Proto when
# SITE_URL is https).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PREFCENTER_VAR_DIR=/app/var \
    STATIC_ROOT=/app/static \
    FORWARDED_ALLOW_IPS=*

WORKDIR /app

# Dependencies first, so code changes do not reinstall them: a stub package with the real
# pyproject.toml resolves and installs every dependency into this layer.
COPY pyproject.toml README.md ./
RUN mkdir prefcenter subscriptions && touch prefcenter/__init__.py subscriptions/__init__.py \
    && pip install . && pip uninstall -y prefcenter \
    && rm -rf prefcenter subscriptions build *.egg-info

COPY . .
# Installed in place (-e) so settings find templates/ and locale/ next to the code in /app.
# Static files are collected at build time and served by WhiteNoise. Settings refuse to load
# without production secrets, so this one step runs with the development values.
RUN pip install --no-deps -e . \
    && DEBUG=1 python manage.py collectstatic --noinput --verbosity 0

# Never run as root. /app/var holds the beat schedule (and the filesystem outbox if enabled).
RUN useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin prefcenter \
    && mkdir -p /app/var && chown -R prefcenter /app/var
USER prefcenter

EXPOSE 8000
# prefcenter/gunicorn_conf.py: the access log with link tokens and ?email= values redacted.
CMD ["gunicorn", "-c", "python:prefcenter.gunicorn_conf", "prefcenter.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--workers", "3", "--timeout", "60", "--access-logfile", "-", "--no-control-socket"]
