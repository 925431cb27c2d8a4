-- wrk script for bench/bench_call_rate.py: POST /api/v1/windows/<n>/call-next with complete_current, as a
-- clerk's console sends it (hallq.client's call_next), for several windows at once.
--
--   wrk -t2 -c16 -d10s -s bench/wrk/call.lua http://127.0.0.1:PORT -- <run tag> <threads> <n>=<token> ...
--
-- The windows are shared out among wrk's threads (window i to thread i mod threads); each thread asks for
-- its windows in turn, so with one connection per window each window has about one call in flight, as at a
-- hall where each clerk presses "next" on their own. Every request carries the clerk's session token and an
-- Idempotency-Key of its own (run tag, thread, counter: never repeated). done() prints one line
-- "WRK_JSON {...}" as bench/wrk/issue.lua does, which bench/common.py's run_wrk reads.

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  -- each thread's Lua state is its own: the number of threads comes as an argument (wrk's -t)
  local nthreads = tonumber(args[2]) or 1
  prefix = string.format("wrk-%s-%d-", args[1] or tostring(os.time()), thread_number)
  mine = {}
  for i = 3, #args do
    local number, token = string.match(args[i], "^(%d+)=(.+)$")
    if number and ((i - 3) % nthreads) + 1 == thread_number then
      table.insert(mine, {path = "/api/v1/windows/" .. number .. "/call-next", token = token})
    end
  end
  counter = 0
end

function request()
  counter = counter + 1
  local w = mine[(counter - 1) % #mine + 1]
  return wrk.format("POST", w.path, {
    ["Authorization"] = "Bearer " .. w.token,
    ["Idempotency-Key"] = prefix .. counter,
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }, '{"complete_current":true}')
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
