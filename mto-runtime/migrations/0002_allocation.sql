-- Showback: each container's (or claim's) hour, replaced while the hour
-- is within the look-back window, final after it.
CREATE TABLE mto_allocation (
    -- The hour's start, Unix seconds.
    hour BIGINT NOT NULL,
    namespace TEXT NOT NULL,
    pod TEXT NOT NULL,
    container TEXT NOT NULL,
    -- The namespace's tenant at the time; NULL for none.
    tenant TEXT,
    -- The pod's labels, a JSON object.
    labels TEXT NOT NULL,
    -- Milli-cores × seconds.
    cpu_request BIGINT NOT NULL,
    cpu_usage BIGINT NOT NULL,
    -- Bytes × seconds.
    ram_request BIGINT NOT NULL,
    ram_usage BIGINT NOT NULL,
    -- GPUs × seconds.
    gpu BIGINT NOT NULL,
    -- Volume bytes × seconds.
    pv BIGINT NOT NULL,
    -- Micro-units of the currency.
    cpu_cost BIGINT NOT NULL,
    ram_cost BIGINT NOT NULL,
    gpu_cost BIGINT NOT NULL,
    pv_cost BIGINT NOT NULL,
    PRIMARY KEY (hour, namespace, pod, container)
);

-- One tenant's records without reading every tenant's.
CREATE INDEX mto_allocation_by_tenant ON mto_allocation (tenant, hour);

-- What the nodes' CPU and memory cost each hour, micro-units: idle is
-- this less what was allocated.
CREATE TABLE mto_capacity (
    hour BIGINT PRIMARY KEY,
    cpu BIGINT NOT NULL,
    ram BIGINT NOT NULL
);
