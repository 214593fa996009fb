#!/bin/sh
# First start of the compose PostgreSQL: a separate database for the demo catalog beside Airflow's
# metadata database, with the application's movies table.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE DATABASE ${CATALOG_DB}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$CATALOG_DB" -f /sql/movies.sql
