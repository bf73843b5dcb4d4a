-- Tollgate ledger: teams, keys, budgets and leases, replicas, the usage ledger and its daily
-- rollup, moderation events. Applied in one transaction by `tollgate migrate`.
-- Money columns are integer nano-units (10^-9) of the named currency; never floating point.

CREATE TABLE teams (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    budget_nanos  bigint      CHECK (budget_nanos IS NULL OR budget_nanos >= 0),
    budget_period text        NOT NULL DEFAULT 'total'
                              CHECK (budget_period IN ('total', 'daily', 'weekly', 'monthly')),
    currency      text        NOT NULL DEFAULT 'USD',
    rpm           integer     CHECK (rpm IS NULL OR rpm > 0),
    tpm           integer     CHECK (tpm IS NULL OR tpm > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A key is stored only as the SHA-256 of its plaintext, plus a short visible prefix that
-- identifies it in listings and logs.
CREATE TABLE api_keys (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash      bytea       NOT NULL UNIQUE CHECK (octet_length(key_hash) = 32),
    prefix        text        NOT NULL UNIQUE,
    team_id       bigint      NOT NULL REFERENCES teams (id),
    name          text,
    budget_nanos  bigint      CHECK (budget_nanos IS NULL OR budget_nanos >= 0),
    budget_period text        NOT NULL DEFAULT 'total'
                              CHECK (budget_period IN ('total', 'daily', 'weekly', 'monthly')),
    currency      text        NOT NULL DEFAULT 'USD',
    rpm           integer     CHECK (rpm IS NULL OR rpm > 0),
    tpm           integer     CHECK (tpm IS NULL OR tpm > 0),
    models        text[]      NOT NULL DEFAULT '{}',
    expires_at    timestamptz,
    revoked_at    timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_team_idx ON api_keys (team_id);
-- The gateway's refresh loop reads keys changed since its last look.
CREATE INDEX api_keys_updated_idx ON api_keys (updated_at);
CREATE INDEX teams_updated_idx ON teams (updated_at);

-- One row per budget window: a team's or key's spend in one period (period_start is the
-- window's start in UTC; 'total' budgets use 1970-01-01). spent_nanos is settled spend that
-- replicas reported; leased_nanos is what replicas hold as admission allowances right now.
-- Replicas update this row when they lease or report, never once per request.
CREATE TABLE budget_windows (
    scope        text        NOT NULL CHECK (scope IN ('team', 'key')),
    scope_id     bigint      NOT NULL,
    period_start timestamptz NOT NULL,
    spent_nanos  bigint      NOT NULL DEFAULT 0,
    leased_nanos bigint      NOT NULL DEFAULT 0 CHECK (leased_nanos >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, scope_id, period_start)
);

-- What each replica holds of each window. A replica that stops renewing (crashed) has its
-- leases reclaimed after expires_at; the unreported remainder counts as spent, so a crash can
-- only make a budget stricter, never let it overspend.
CREATE TABLE budget_leases (
    replica_id   text        NOT NULL,
    scope        text        NOT NULL,
    scope_id     bigint      NOT NULL,
    period_start timestamptz NOT NULL,
    amount_nanos bigint      NOT NULL CHECK (amount_nanos >= 0),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (replica_id, scope, scope_id, period_start)
);
CREATE INDEX budget_leases_expiry_idx ON budget_leases (expires_at);

-- Live gateway replicas; rate limits are split evenly between the replicas seen here.
CREATE TABLE gateway_replicas (
    replica_id   text        PRIMARY KEY,
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen    timestamptz NOT NULL DEFAULT now()
);

-- One row per served (or refused after admission) request. Partitioned by day on started_at;
-- partitions are created ahead by the usage writer, and the default partition catches anything
-- outside them so no row is ever rejected. (request_id, started_at) makes replays idempotent.
CREATE TABLE usage_events (
    request_id              text        NOT NULL,
    started_at              timestamptz NOT NULL,
    finished_at             timestamptz NOT NULL,
    team_id                 bigint      NOT NULL,
    key_id                  bigint,
    requested_model         text        NOT NULL,
    target                  text        NOT NULL,
    endpoint                text,
    policy_rule             text,
    prompt_tokens_estimated integer     NOT NULL DEFAULT 0,
    prompt_tokens           integer     NOT NULL DEFAULT 0,
    cache_hit_tokens        integer     NOT NULL DEFAULT 0,
    completion_tokens       integer     NOT NULL DEFAULT 0,
    reasoning_tokens        integer     NOT NULL DEFAULT 0,
    cost_nanos              bigint      NOT NULL,
    currency                text        NOT NULL,
    price_book_version      text        NOT NULL,
    list_cost_nanos         bigint      NOT NULL,
    latency_ms              integer     NOT NULL,
    ttft_ms                 integer,
    status_code             integer     NOT NULL,
    error_code              text,
    stream                  boolean     NOT NULL,
    client_disconnected     boolean     NOT NULL,
    usage_estimated         boolean     NOT NULL,
    PRIMARY KEY (request_id, started_at)
) PARTITION BY RANGE (started_at);
CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;
CREATE INDEX usage_events_team_started_idx ON usage_events (team_id, started_at);

-- Per day, team, model, target and currency: the sums the reports read. Maintained by the
-- usage writer in the same statement that inserts the ledger rows (only rows actually
-- inserted are counted, so replays never double count).
CREATE TABLE usage_daily (
    day                date    NOT NULL,
    team_id            bigint  NOT NULL,
    requested_model    text    NOT NULL,
    target             text    NOT NULL,
    currency           text    NOT NULL,
    requests           bigint  NOT NULL,
    errors             bigint  NOT NULL,
    prompt_tokens      bigint  NOT NULL,
    cache_hit_tokens   bigint  NOT NULL,
    completion_tokens  bigint  NOT NULL,
    reasoning_tokens   bigint  NOT NULL,
    cost_nanos         numeric NOT NULL,
    list_cost_nanos    numeric NOT NULL,
    PRIMARY KEY (day, team_id, requested_model, target, currency)
);

-- Moderation decisions (filled by the moderation hooks; empty until then).
CREATE TABLE moderation_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    request_id  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    team_id     bigint,
    key_id      bigint,
    stage       text        NOT NULL CHECK (stage IN ('input', 'output')),
    hook        text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('allow', 'flag', 'redact', 'block')),
    category    text,
    detail      jsonb,
    PRIMARY KEY (id, created_at)
);
CREATE INDEX moderation_events_request_idx ON moderation_events (request_id);
