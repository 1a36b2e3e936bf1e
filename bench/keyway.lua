-- wrk script for the Keyway server load benchmark (bench/load.sh runs it).
--
-- Environment:
--   KEYWAY_TOKENS  file of `<unit> <token>` lines; requests rotate through them
--   KEYWAY_TOKEN   one token for every request instead (a manager's)
--   KEYWAY_MODE    sync | create | healthz (GET /healthz, no token: the
--                  server's cheapest request, to compare sync with)
--   KEYWAY_CURSOR  the sync cursor to send (sync; absent: a first sync)
-- Creation sends a generated guest code for the token's unit with an
-- Idempotency-Key unique to the request.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode = os.getenv("KEYWAY_MODE") or "sync"
  cursor = os.getenv("KEYWAY_CURSOR")
  tokens = {}
  local one = os.getenv("KEYWAY_TOKEN")
  if mode == "healthz" then
    -- no token: request() asks for /healthz alone
  elseif one then
    tokens[1] = one
  else
    for line in io.lines(os.getenv("KEYWAY_TOKENS")) do
      local token = line:match("%S+%s+(%S+)")
      if token then table.insert(tokens, token) end
    end
  end
  -- Threads start at different tokens and stride through them.
  counter = id * 7919
end

function request()
  if mode == "healthz" then
    return wrk.format("GET", "/healthz")
  end
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  local headers = { ["Authorization"] = "Bearer " .. token }
  if mode == "create" then
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", id, counter, os.time())
    return wrk.format("POST", "/v1/codes", headers, '{"kind":"guest","mode":"generate"}')
  end
  local path = "/v1/sync"
  if cursor then path = path .. "?cursor=" .. cursor end
  return wrk.format("GET", path, headers)
end
