"""The speed benchmark behind `make bench`: synthetic feedback built from the public data
sets, imported and analysed on PostgreSQL by a real Celery worker, timed per stage."""
