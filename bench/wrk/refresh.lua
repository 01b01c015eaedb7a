-- wrk script: refresh-token rotation chains. Each request presents a refresh token from the pool
-- and each 200 puts its successor back, so every connection walks its own chain of rotations.
--   REFRESH_FILE  one refresh token per line (at least as many as connections)
--   CLIENT_BASIC  base64 of client_id:client_secret (HTTP Basic)
-- A request with an empty pool (a chain broken by an error) sends an unknown token, which
-- answers 400 and is counted among wrk's non-2xx responses.
local pool = {}
local basic = os.getenv("CLIENT_BASIC")

function init(args)
  for line in io.lines(os.getenv("REFRESH_FILE")) do
    if #line > 0 then pool[#pool + 1] = line end
  end
end

function request()
  local token = table.remove(pool) or "exhausted"
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["Authorization"] = "Basic " .. basic,
  }, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    local successor = body:match('"refresh_token":"([^"]+)"')
    if successor then pool[#pool + 1] = successor end
  end
end
