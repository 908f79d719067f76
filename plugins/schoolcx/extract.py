"""Run one configured source: resolve its connection, stream its pages into raw."""

from __future__ import annotations

import datetime as dt
import logging

from schoolcx.config import DeploymentConfig
from schoolcx.connections import get_connection
from schoolcx.connectors.base import ConnectorContext, ConnectorError, registry
from schoolcx.load.raw_writer import LoadSummary, RawWriter

log = logging.getLogger(__name__)


def build_connector(
    cfg: DeploymentConfig,
    source_name: str,
    run_id: str = "manual",
    warehouse_url: str | None = None,
):
    district, source = cfg.source(source_name)
    connectors = registry()
    if source.type not in connectors:
        raise ConnectorError(f"{source_name}: no connector available for type {source.type!r}")
    connection = get_connection(source.conn_id) if source.conn_id else None
    ctx = ConnectorContext(
        district=district,
        source=source,
        connection=connection,
        run_id=run_id,
        warehouse_url=warehouse_url,
    )
    return connectors[source.type](ctx)


def extract_source(
    url: str,
    cfg: DeploymentConfig,
    source_name: str,
    *,
    run_id: str,
    until: dt.datetime,
    progress: bool = True,
) -> LoadSummary:
    """Extract one source incrementally up to `until` and load it; returns what happened."""
    district, source = cfg.source(source_name)
    connector = build_connector(cfg, source_name, run_id, warehouse_url=url)

    def on_page(page, summary: LoadSummary) -> None:
        if progress and summary.pages % 20 == 0:
            log.info(
                "%s: %d pages, %d records so far", source_name, summary.pages, summary.received
            )

    with RawWriter(
        url,
        source_instance=source.name,
        source_type=source.type,
        district_id=district.district_id,
        run_id=run_id,
        on_page=on_page,
    ) as writer:
        summary = writer.write_pages(connector.pages(writer.state(), until))
    log.info("%s", summary.line())
    return summary
