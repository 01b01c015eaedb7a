-- wrk script for bench/load.py (after ../shared/peer-bench/wrk_report.lua, which reports the
-- same way; that file is read-only, this one adds the pooled modes). One script, chosen by MODE:
--
--   fixed    the same request every time: BENCH_METHOD (GET), BENCH_BODY, BENCH_AUTH
--   refresh  POOL_FILE holds refresh tokens; each request presents one and each 200 puts its
--            successor back, so every connection walks its own rotation chain
--   redeem   POOL_FILE holds authorization codes; each is redeemed once (BENCH_BODY is the rest
--            of the form: redirect_uri and code_verifier); the thread stops when the pool is empty
--   mint     GET the path with BENCH_COOKIE until MINT codes have come back in the Location
--            header of a redirect; writes them to MINT_OUT, one per line
--
-- BENCH_AUTH is the whole Authorization header value. At the end one line starting with
-- "WRKRESULT " gives responses, 2xx, non-2xx, socket errors, the latency percentiles, and the
-- active window (first request sent to last response read, from CLOCK_MONOTONIC) — the rate of a
-- pool that ran dry before the duration ended is responses over that window.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock, bench_timespec *ts);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local mode = os.getenv("MODE") or "fixed"
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
if (os.getenv("BENCH_AUTH") or "") ~= "" then headers["Authorization"] = os.getenv("BENCH_AUTH") end
if (os.getenv("BENCH_COOKIE") or "") ~= "" then headers["Cookie"] = os.getenv("BENCH_COOKIE") end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

local pool = {}
local out
local wanted = tonumber(os.getenv("MINT") or "0")
function init(args)
  ok2xx, non2xx, minted, first_us, last_us = 0, 0, 0, 0, 0
  if mode == "refresh" or mode == "redeem" then
    for line in io.lines(os.getenv("POOL_FILE")) do
      if #line > 0 then pool[#pool + 1] = line end
    end
  elseif mode == "mint" then
    out = io.open(os.getenv("MINT_OUT"), "w")
    out:setvbuf("line")
  end
end

local fixed
function request()
  if first_us == 0 then first_us = now_us() end
  if mode == "refresh" then
    -- An empty pool (a chain broken by an error) sends an unknown token: a 400, counted.
    return wrk.format("POST", nil, headers,
      "grant_type=refresh_token&refresh_token=" .. (table.remove(pool) or "exhausted"))
  elseif mode == "redeem" then
    return wrk.format("POST", nil, headers,
      "grant_type=authorization_code&code=" .. (table.remove(pool) or "exhausted") .. "&" .. body)
  end
  if fixed == nil then
    fixed = wrk.format(method, nil, headers, method == "POST" and body or nil)
  end
  return fixed
end

function response(status, hdrs, resp)
  last_us = now_us()
  -- A mint answers with a redirect; everything else must answer 2xx.
  if (status >= 200 and status < 300) or (mode == "mint" and (status == 302 or status == 303)) then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
  end
  if mode == "refresh" and status == 200 then
    local successor = resp:match('"refresh_token"%s*:%s*"([^"]+)"')
    if successor then pool[#pool + 1] = successor end
  elseif mode == "redeem" and #pool == 0 then
    wrk.thread:stop()
  elseif mode == "mint" then
    local location = hdrs["location"] or hdrs["Location"] or ""
    local code = location:match("[?&]code=([^&]+)")
    if code then
      out:write(code, "\n")
      minted = minted + 1
    end
    if minted >= wanted then wrk.thread:stop() end
  end
end

function done(summary, latency, requests)
  local ok, bad, first, last = 0, 0, nil, 0
  for _, t in ipairs(threads) do
    ok = ok + (t:get("ok2xx") or 0)
    bad = bad + (t:get("non2xx") or 0)
    local f, l = t:get("first_us") or 0, t:get("last_us") or 0
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
  end
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT responses=%d ok=%d non2xx=%d window_us=%d p50_us=%d p99_us=%d max_us=%d "
      .. "errors=%d\n",
    ok + bad, ok, bad, last - (first or last), latency:percentile(50), latency:percentile(99),
    latency.max, e.connect + e.read + e.write + e.timeout))
end
