-- The audit log of writes made through the API gateway.
CREATE TABLE mto_audit (
    id BIGSERIAL PRIMARY KEY,
    -- When, in microseconds since the Unix epoch.
    at_micros BIGINT NOT NULL,
    "user" TEXT NOT NULL,
    action TEXT NOT NULL,
    object TEXT NOT NULL,
    outcome TEXT NOT NULL
);
