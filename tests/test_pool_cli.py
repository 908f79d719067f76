"""`schoolcx pool export | import | return | receive`: one round through the CLI, each command
ending with its counts (issue 15)."""

from __future__ import annotations

import yaml

from schoolcx.cli import main
from tests.pool_support import (
    HUB_ROSTER,
    build_district_marts,
    build_hub_marts,
    deployment_config,
    hub_yaml,
    set_keys,
)


def test_pool_round_through_the_cli(warehouse, tmp_path, monkeypatch, capsys):
    set_keys(monkeypatch, HUB_ROSTER)
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    build_district_marts(warehouse)
    config = tmp_path / "district.yml"
    config.write_text(yaml.safe_dump(deployment_config().model_dump(mode="json")))
    inbox, outbox = tmp_path / "inbox", tmp_path / "outbox"
    roster = ["1700001", "1700002", "1700004"]
    hub = hub_yaml(tmp_path, roster, str(inbox), str(outbox))

    assert main(["pool", "export", "--config", str(config), "--to", str(inbox)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1].startswith("3 extracts written (") and str(inbox) in out

    # 1700003 is not on this hub's roster: refused, and the command says so in its exit code
    assert main(["pool", "import", "--hub", str(hub)]) == 1
    out = capsys.readouterr().out
    assert "REJECTED" in out and "roster" in out
    assert "MISSING 1700004: never sent an extract" in out
    assert out.splitlines()[-1] == (
        "il-scc: 2 accepted, 1 rejected, 0 already pooled, 0 incomplete, "
        "1 roster districts missing for month 2025-11-01"
    )

    build_hub_marts(warehouse)  # what `pool benchmark` publishes (pooldbt's part)
    assert main(["pool", "return", "--hub", str(hub)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == (
        "il-scc: 3 returns written (18 rows), 0 roster districts without benchmark rows"
    )
    assert out.count("returned 17000") == 3

    assert main(["pool", "receive", "--config", str(config), "--from", str(outbox)]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1] == "2 returns loaded, 0 rejected, 0 already loaded"
    )


def test_pool_cli_errors_are_one_clear_line(warehouse, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WAREHOUSE_URL", warehouse)
    bad = tmp_path / "hub.yml"
    bad.write_text("consortium_id: c1\nname: C\ndistricts: ['17']\ninbox: a\noutbox: b\n")
    assert main(["pool", "import", "--hub", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: districts: item 0: '17' is not an NCES LEAID" in err
