-- wrk script for bench/run: paced GET /healthz while registration is saturated.
-- Each connection waits 10 ms between requests, so this probe adds little load of its own
-- (a few hundred requests/s) and measures the latency a health check or any cheap request
-- sees; the wait is not part of the measured latency. Besides the BENCH line it prints the
-- whole latency histogram ("LAT microseconds count"), so bench/run can merge segments and
-- take an exact p99.
function delay()
  return 10
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect=%d read=%d write=%d timeout=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("LAT %d %d\n", value, count))
  end
end
