-- The count-accuracy report's daily rollup, kept by the usage writer in the same statement as
-- usage_daily, so a month's report reads a few hundred rows instead of every ledger row. Only
-- the requests the report compares are summed: answered (status below 400), with the engine's
-- usage (not usage_estimated) and a count of Tollgate's own (prompt_tokens_estimated above 0).
-- `counted` is prompt_count_exact spelled out: exactly, estimated, or unrecorded (NULL).
CREATE TABLE count_accuracy_daily (
    day              date   NOT NULL,
    team_id          bigint NOT NULL,
    requested_model  text   NOT NULL,
    target           text   NOT NULL,
    counted          text   NOT NULL CHECK (counted IN ('exactly', 'estimated', 'unrecorded')),
    requests         bigint NOT NULL,
    exact            bigint NOT NULL,
    tollgate_tokens  bigint NOT NULL,
    engine_tokens    bigint NOT NULL,
    abs_error        bigint NOT NULL,
    max_error        bigint NOT NULL,
    PRIMARY KEY (day, team_id, requested_model, target, counted)
);

-- The rows written before this migration.
INSERT INTO count_accuracy_daily
SELECT (started_at AT TIME ZONE 'UTC')::date, team_id, requested_model, target,
       CASE WHEN prompt_count_exact THEN 'exactly' WHEN NOT prompt_count_exact THEN 'estimated' ELSE 'unrecorded' END,
       count(*), count(*) FILTER (WHERE prompt_tokens_estimated = prompt_tokens),
       sum(prompt_tokens_estimated), sum(prompt_tokens), sum(abs(prompt_tokens_estimated - prompt_tokens)),
       max(abs(prompt_tokens_estimated - prompt_tokens))
FROM usage_events
WHERE NOT usage_estimated AND prompt_tokens_estimated > 0 AND status_code < 400
GROUP BY 1, 2, 3, 4, 5;
