-- The x-request-id a client sent, kept beside request_id, which the gateway now always makes
-- itself (unique per request across replicas). Until this column, request_id was the client's id
-- when one was sent, and two requests sent with the same id that started in the same microsecond
-- kept one ledger row between them. NULL when the client sent none, and for rows written before.
ALTER TABLE usage_events ADD COLUMN client_request_id text;
