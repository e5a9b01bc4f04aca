# idgate: the gateway image. Keys live in /app/certs and the secret in /app/instance:
# mount both as volumes so that every instance shares them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY saml ./saml
COPY templates ./templates
RUN pip install -e . && useradd --system --home /app idgate && mkdir -p certs instance && chown idgate certs instance
USER idgate

EXPOSE 5000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5000/healthz')"
# granian, 2 worker processes × 4 threads (one worker a core); set IDGATE_WORKERS / IDGATE_THREADS to change
# them. SIGTERM (docker stop) lets requests in flight finish for up to 20 s: give `docker stop` that long (-t 25).
CMD ["sh", "-c", "idgate init && exec idgate serve --host 0.0.0.0 --port 5000"]
