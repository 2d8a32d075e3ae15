// First start of the mongo container only (docker-entrypoint-initdb.d, run by mongosh as the root user).
// Creates the user Airflow connects as (connection mongo_default): readWrite on the `datalake` database,
// which holds the metadata catalog and the gold documents. Credentials come from .env via compose.
const user = process.env.MONGO_DATALAKE_USER;
const pwd = process.env.MONGO_DATALAKE_PASSWORD;
if (!user || !pwd) {
  throw new Error("MONGO_DATALAKE_USER and MONGO_DATALAKE_PASSWORD must be set (see docker/.env.example)");
}
const datalake = db.getSiblingDB("datalake");
datalake.createUser({ user: user, pwd: pwd, roles: [{ role: "readWrite", db: "datalake" }] });
print(`mongo-init: created user ${user} with readWrite on database datalake`);
