-- wrk script for bench/bench_issue.py: POST /api/v1/tickets as a kiosk, as hallq.client does it.
--
--   wrk -t2 -c16 -d10s -s bench/wrk/issue.lua http://127.0.0.1:PORT -- <device key> <run tag>
--
-- Every request carries the device key (Authorization: Bearer) and an Idempotency-Key of its own
-- (run tag, thread, counter: never repeated, so every request issues a new ticket rather than
-- replaying one), over the five businesses in turn. done() (common.lua) prints one line "WRK_JSON {...}"
-- with the counts and the latency percentiles in microseconds, which bench/common.py's run_wrk reads.

local businesses = {"commerce", "construction", "social", "online", "delivery"}
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

-- setup() (each thread's thread_number) and done() (the report line): common.lua, beside this script
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
