-- Leases name the process holding them ("host:pid:start-ms"), so a starting process can hand
-- back the leases of one that is gone, and live processes keep theirs with a heartbeat
-- (docs/operations/README.md, "Deliveries after a crash").
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
-- Each instance's queue, in order: the worker claims per instance.
CREATE INDEX deliveries_by_instance ON deliveries (domain, id) WHERE delivered_at IS NULL;
