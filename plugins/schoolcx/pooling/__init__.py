"""Consortium pooling (issue 15): districts export de-identified aggregates, a hub pools them.

District side: `export` (the published marts' district-level figures, signed) and `returns`
(receiving the hub's peer rows). Hub side: `hub_config` (roster, k, n, inbox, outbox),
`importer` (verify, then load into `pool.*`), `returns` (each district its own peer rows).
`manifest` holds what both sides agree on: the schema version, checksums and the signature.
"""
