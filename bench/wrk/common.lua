-- What both of bench/wrk/'s scripts share, loaded by them with dofile (each of wrk's Lua states loads its script):
--
-- * setup(): wrk calls it in its main state for each thread before the run; each thread gets its number
--   (1, 2, ...) as the global thread_number, for its Idempotency-Keys and its share of the work;
-- * done(): wrk calls it once after the run; it prints one line "WRK_JSON {...}" with the counts and the
--   latency percentiles in microseconds, which bench/common.py's run_wrk reads.

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"mean": %.1f}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
