"""The reference HQ's PostgreSQL schema: events by store, heads, keys, downlink, transfers.

Every table that grows with a store's activity carries `store` in its primary key, so the
schema distributes as is on a sharded PostgreSQL (Citus: `create_distributed_table('hq_events',
'store')`). Locally the events table is hash-partitioned by store. Event `data` is kept as
`json` (its text exactly as the store's canonical form, so HQ can recompute every hash from its
rows; cast to jsonb for indexing). The schema is created idempotently under an advisory lock, so
any number of receivers may start at once.
"""

from __future__ import annotations

PARTITIONS = 8
SCHEMA_LOCK = 0x5E_D6E_0001  # pg_advisory_xact_lock key of the schema set-up
SCHEMA_VERSION = 2
CATALOG_LOCK = 0x5E_D6E_0002  # held from a catalog row's numbering to its commit

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS hq_meta (
        key   text PRIMARY KEY,
        value text NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS hq_stores (
        store      text PRIMARY KEY,
        name       text NOT NULL DEFAULT '',
        key        text NOT NULL,
        active     boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS hq_heads (
        store      text PRIMARY KEY,
        seq        bigint NOT NULL,
        hash       text NOT NULL,
        batches    bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS hq_events (
        store       text   NOT NULL,
        seq         bigint NOT NULL,
        id          text   NOT NULL,
        type        text   NOT NULL,
        ts          text   NOT NULL,
        till        text,
        staff       text,
        data        json   NOT NULL,
        prev_hash   text   NOT NULL,
        hash        text   NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (store, seq)
    ) PARTITION BY HASH (store)
    """,
    *[
        f"CREATE TABLE IF NOT EXISTS hq_events_p{i} PARTITION OF hq_events"
        f" FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i})"
        for i in range(PARTITIONS)
    ],
    "CREATE INDEX IF NOT EXISTS hq_events_type ON hq_events (store, type, seq)",
    """
    CREATE TABLE IF NOT EXISTS hq_catalog (
        version    bigserial PRIMARY KEY,
        store      text,
        kind       text NOT NULL,
        body       json NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX IF NOT EXISTS hq_catalog_store ON hq_catalog (store, version)",
    # a row's version is drawn under a transaction-long lock, so versions become visible in
    # order and a store reading `since=v` can never miss a row numbered below v that commits
    # later; whoever inserts (the receiver routing a transfer, HQ's own tools) gets this
    f"""
    CREATE OR REPLACE FUNCTION hq_catalog_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({CATALOG_LOCK});
        NEW.version := nextval(pg_get_serial_sequence('hq_catalog', 'version'));
        RETURN NEW;
    END $$
    """,
    # the trigger numbers rows: no default drawing a number it would throw away
    "ALTER TABLE hq_catalog ALTER COLUMN version DROP DEFAULT",
    """
    CREATE OR REPLACE TRIGGER hq_catalog_in_order BEFORE INSERT ON hq_catalog
    FOR EACH ROW EXECUTE FUNCTION hq_catalog_in_order()
    """,
    # transfers between stores as HQ routes them: sent by one, announced to the other on its
    # downlink, received there, and the receipt routed back to the sender
    """
    CREATE TABLE IF NOT EXISTS hq_transfers (
        to_store     text   NOT NULL,
        id           text   NOT NULL,
        from_store   text   NOT NULL,
        lines        json   NOT NULL,
        sent_seq     bigint NOT NULL,
        received     json,
        received_seq bigint,
        created_at   timestamptz NOT NULL DEFAULT now(),
        received_at  timestamptz,
        PRIMARY KEY (to_store, id)
    )
    """,
]
