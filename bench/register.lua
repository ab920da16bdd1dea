-- wrk script for bench/run: POST /customers with a unique email per request.
-- Usage: wrk ... -s bench/register.lua URL -- RUN_PREFIX
-- Emails are bench-<run prefix>-<wrk thread>-<counter>@example.com; only 200s count as
-- registrations, every other status is tallied separately.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or tostring(os.time())
  n = 0
  ok = 0
  other = 0
  -- the status of the first non-200 answer, for the report
  first_other = 0
end

local headers = { ["Content-Type"] = "application/json" }

function request()
  n = n + 1
  local body = string.format(
    '{"email":"bench-%s-%d-%d@example.com","password":"Bench-pass-123",' ..
    '"offerId":"S100000001_US","locale":"en_GB","country":"GB","currency":"GBP"}',
    prefix, id, n)
  return wrk.format("POST", "/customers", headers, body)
end

function response(status, hdrs, body)
  if status == 200 then
    ok = ok + 1
  else
    other = other + 1
    if first_other == 0 then first_other = status end
  end
end

function done(summary, latency, requests)
  local total_ok, total_other, first = 0, 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + t:get("ok")
    total_other = total_other + t:get("other")
    if first == 0 then first = t:get("first_other") end
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d ok=%d other=%d first_other_status=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, total_ok, total_other, first,
    e.connect, e.read, e.write, e.timeout, latency:percentile(50), latency:percentile(99)))
end
