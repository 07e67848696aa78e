-- api_reservations holds only calls in flight (a few rows), so its secondary indexes cost every
-- call an index insert and buy nothing: the sweeps that read by age or instance scan a tiny table.
DROP INDEX IF EXISTS api_reservations_created;
DROP INDEX IF EXISTS api_reservations_instance;
