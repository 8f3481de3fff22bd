"""The seam to the outside world. Only this package imports kubernetes, google.cloud, psycopg, pymongo.

Every client turns its library's errors into harness.errors.TransientClientError (429, 5xx, timeouts,
connection errors) or PermanentClientError (other 4xx), so callers retry through harness.retry.
"""
