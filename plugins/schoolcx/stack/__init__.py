"""A real Airflow deployment on one machine, no containers (`schoolcx stack up`): Redis, the
metadata database in the embedded PostgreSQL, and Airflow's scheduler, dag-processor,
api-server, triggerer and N Celery workers as child processes, configured from
docker-compose.yml's own Airflow environment (schoolcx.stack.env) so the two cannot drift."""
