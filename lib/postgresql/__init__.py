"""Django's PostgreSQL backend, with each pooled connection checkout timed (ENGINE "lib.postgresql")."""
