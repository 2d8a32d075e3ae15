#!/bin/bash
# First start of the postgres container only (docker-entrypoint-initdb.d): one database and one owner for
# the Airflow metadata DB, one for the relational gold zone. Names and passwords come from the environment
# that docker-compose.yml passes (values in .env). psql's :"name" / :'value' quoting keeps them inert SQL.
set -eo pipefail  # no -u: the image may source this file into its own entrypoint shell

: "${AIRFLOW_DB_NAME:?}" "${AIRFLOW_DB_USER:?}" "${AIRFLOW_DB_PASSWORD:?}"
: "${DATALAKE_DB_NAME:?}" "${DATALAKE_DB_USER:?}" "${DATALAKE_DB_PASSWORD:?}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=airflow_db="$AIRFLOW_DB_NAME" \
  --set=airflow_user="$AIRFLOW_DB_USER" \
  --set=airflow_password="$AIRFLOW_DB_PASSWORD" \
  --set=datalake_db="$DATALAKE_DB_NAME" \
  --set=datalake_user="$DATALAKE_DB_USER" \
  --set=datalake_password="$DATALAKE_DB_PASSWORD" <<'SQL'
CREATE ROLE :"airflow_user" LOGIN PASSWORD :'airflow_password';
CREATE DATABASE :"airflow_db" OWNER :"airflow_user" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"airflow_db" FROM PUBLIC;

CREATE ROLE :"datalake_user" LOGIN PASSWORD :'datalake_password';
CREATE DATABASE :"datalake_db" OWNER :"datalake_user" ENCODING 'UTF8';
REVOKE ALL ON DATABASE :"datalake_db" FROM PUBLIC;
SQL

echo "postgres-init: created database ${AIRFLOW_DB_NAME} (owner ${AIRFLOW_DB_USER})" \
  "and database ${DATALAKE_DB_NAME} (owner ${DATALAKE_DB_USER})"
