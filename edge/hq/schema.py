"""The reference HQ's PostgreSQL schema: events partitioned by store, heads, keys, downlink.

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
SCHEMA_VERSION = 1

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
]
