-- wrk script for bench/bench_call_rate.py: POST /api/v1/windows/<n>/call-next with complete_current, as a
-- clerk's console sends it (hallq.client's call_next), for several windows at once.
--
--   wrk -t2 -c16 -d10s -s bench/wrk/call.lua http://127.0.0.1:PORT -- <run tag> <threads> <n>=<token> ...
--
-- The windows are shared out among wrk's threads (window i to thread i mod threads); each thread asks for
-- its windows in turn, so with one connection per window each window has about one call in flight, as at a
-- hall where each clerk presses "next" on their own. Every request carries the clerk's session token and an
-- Idempotency-Key of its own (run tag, thread, counter: never repeated). done() (common.lua) prints one
-- line "WRK_JSON {...}", which bench/common.py's run_wrk reads.

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

-- setup() (each thread's thread_number) and done() (the report line): common.lua, beside this script
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")
