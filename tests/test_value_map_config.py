"""Config `channel_map` / `status_map`: validated at `config check` with file, district and
field named, and synced into ref.source_value_maps as staging compares them."""

from __future__ import annotations

import copy

import psycopg
import pytest
import yaml

from schoolcx.config import ConfigError, load_config
from schoolcx.refsync import sync_config
from tests.test_helpdesk_codes import deployment


def _load(tmp_path, cfg):
    path = tmp_path / "deployment.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path, lambda: load_config(path)


def _source(cfg, name):
    return next(s for s in cfg["districts"][0]["sources"] if s["name"] == name)


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        (lambda s: s.update(channel_map={"Walk-in": "walkin"}), "channel_map.Walk-in", "walk_in"),
        (
            lambda s: s["options"].update(status_map={6: "resolved"}),
            "options.status_map.6",
            "solved",
        ),
        (
            lambda s: s.update(channel_map={"Walk-in": "walk_in", " walk-IN": "phone"}),
            "channel_map",
            "the same vendor value",
        ),
    ],
)
def test_a_bad_map_fails_config_check_naming_file_district_and_field(tmp_path, change, field, says):
    cfg = deployment()
    change(_source(cfg, "d2-freshdesk"))
    path, load = _load(tmp_path, cfg)
    with pytest.raises(ConfigError) as err:
        load()
    message = str(err.value)
    assert str(path) in message and "district 1700002 (Jefferson)" in message
    assert field in message and says in message


def test_channel_map_only_on_helpdesk_sources(tmp_path):
    cfg = deployment()
    cfg["districts"][0]["sources"].append(
        {
            "name": "mailbox",
            "type": "imap",
            "conn_id": "mail",
            "start_date": "2025-08-01",
            "options": {"mailbox_address": "help@jefferson.k12.il.us"},
            "channel_map": {"email": "web"},
        }
    )
    _path, load = _load(tmp_path, cfg)
    with pytest.raises(ConfigError, match="channel_map: a imap source has no vendor channel"):
        load()


def test_maps_are_synced_trimmed_and_lower_cased(warehouse, tmp_path):
    cfg = copy.deepcopy(deployment())
    _path, load = _load(tmp_path, cfg)
    sync_config(warehouse, load())
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select source_instance, field, vendor_value, mapped_value"
            " from ref.source_value_maps order by 1, 2, 3"
        ).fetchall()
    assert rows == [
        ("d2-freshdesk", "channel", "11", "web"),
        ("d2-freshdesk", "channel", "front desk", "walk_in"),
        ("d2-freshdesk", "status", "6", "solved"),
        ("d2-freshdesk", "status", "waiting on third party", "pending"),
        ("zd-mapped", "channel", "api", "email"),
        ("zd-mapped", "channel", "carrier_pigeon", "chat"),
    ]
