"""Publishing validated marts (write-audit-publish) and BI access to them."""

from schoolcx.publish.checksum import marts_checksum
from schoolcx.publish.roles import apply_mart_access, sync_bi_roles
from schoolcx.publish.wap import (
    GateBlocked,
    PublishResult,
    publish,
    raise_if_blocked,
    record_blocked,
)

__all__ = [
    "GateBlocked",
    "PublishResult",
    "apply_mart_access",
    "marts_checksum",
    "publish",
    "raise_if_blocked",
    "record_blocked",
    "sync_bi_roles",
]
