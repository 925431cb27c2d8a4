-- wrk script for bench/bench_issue.py: POST /api/v1/tickets as a kiosk, as hallq.client does it.
--
--   wrk -t2 -c16 -d10s -s bench/wrk/issue.lua http://127.0.0.1:PORT -- <device key> <run tag>
--
-- Every request carries the device key (Authorization: Bearer) and an Idempotency-Key of its own
-- (run tag, thread, counter: never repeated, so every request issues a new ticket rather than
-- replaying one), over the five businesses in turn. done() prints one line "WRK_JSON {...}" with
-- the counts and the latency percentiles in microseconds, which bench_issue.py reads.

local businesses = {"commerce", "construction", "social", "online", "delivery"}
local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  device_key = args[1] or "demo-kiosk-1"
  prefix = string.format("wrk-%s-%d-", args[2] or tostring(os.time()), thread_number)
  counter = 0
end

function request()
  counter = counter + 1
  local business = businesses[(counter + thread_number) % #businesses + 1]
  return wrk.format("POST", "/api/v1/tickets", {
    ["Authorization"] = "Bearer " .. device_key,
    ["Idempotency-Key"] = prefix .. counter,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }, '{"business":"' .. business .. '"}')
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
