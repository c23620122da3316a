"""gunicorn settings of the web process (Dockerfile, docker-compose.yml, `make run`):

    gunicorn -c python:prefcenter.gunicorn_conf prefcenter.wsgi:application --bind ...

The access log goes to stdout with link tokens and `?email=` values redacted
(prefcenter.log_redaction). Command-line flags still override anything set here.
"""

logger_class = "prefcenter.log_redaction.RedactingLogger"
accesslog = "-"
