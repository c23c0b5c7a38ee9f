"""gunicorn settings for `make serve` and production (`gunicorn -c gunicorn.conf.py`).

Threaded workers: a thread waiting on sipgate or the database does not hold up the others,
and Argon2 (argon2-cffi) releases the GIL while hashing, so the worker processes together
use every core. Command-line flags and GUNICORN_CMD_ARGS override these values.
"""

import multiprocessing

wsgi_app = "twofa_site.wsgi:application"
bind = "127.0.0.1:8000"
worker_class = "gthread"
workers = multiprocessing.cpu_count()
threads = 16
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
# No query strings in the access log: they are never used for secrets here, but stay safe.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
