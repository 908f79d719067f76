# The image every Airflow service of docker-compose.yml runs: the project's locked environment.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 UV_PROJECT_ENVIRONMENT=/opt/venv PATH=/opt/venv/bin:$PATH \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False GX_ANALYTICS_ENABLED=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False DO_NOT_TRACK=1
RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 50000 airflow
WORKDIR /opt/schoolcx
COPY pyproject.toml uv.lock README.md ./
COPY plugins ./plugins
RUN uv sync --frozen --no-dev
USER airflow
