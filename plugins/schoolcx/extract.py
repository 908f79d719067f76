"""Run one configured source: resolve its connection, stream its pages into raw."""

from __future__ import annotations

import datetime as dt
import logging

from schoolcx.config import DeploymentConfig
from schoolcx.connections import get_connection
from schoolcx.connectors.base import ConnectorContext, ConnectorError, registry
from schoolcx.load.raw_writer import LoadSummary, RawWriter
from schoolcx.load.source_state import finish_reset, start_over_if_reset

log = logging.getLogger(__name__)


def build_connector(
    cfg: DeploymentConfig,
    source_name: str,
    run_id: str = "manual",
    warehouse_url: str | None = None,
    start_date: dt.date | None = None,
):
    district, source = cfg.source(source_name)
    if start_date is not None:  # `schoolcx source reset NAME --from DATE`
        source = source.model_copy(update={"start_date": start_date})
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
    progress_every: int = 20,  # pages between progress lines (`schoolcx extract`: every page)
) -> LoadSummary:
    """Extract one source incrementally up to `until` and load it; returns what happened."""
    district, source = cfg.source(source_name)
    # After `schoolcx source reset`: the state is cleared; streams start at the reset's date.
    reset = start_over_if_reset(url, source.name)
    start = reset.from_date if reset else None
    if reset:
        log.info("%s: reset pending, extracting from %s", source_name, start or source.start_date)
    connector = build_connector(cfg, source_name, run_id, warehouse_url=url, start_date=start)

    def on_page(page, summary: LoadSummary) -> None:
        if progress and summary.pages % progress_every == 0:
            log.info(
                "%s: %d pages, %d records so far (%d new, %d quarantined)",
                source_name,
                summary.pages,
                summary.received,
                summary.inserted,
                summary.quarantined_total,
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
    if reset:
        finish_reset(url, source.name, reset)
    log.info("%s", summary.line())
    return summary
