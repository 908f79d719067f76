"""The warehouse: an external PostgreSQL named by WAREHOUSE_URL, or an embedded one."""

from schoolcx.warehouse.connect import connect, warehouse_url
from schoolcx.warehouse.migrate import migrate

__all__ = ["connect", "migrate", "warehouse_url"]
