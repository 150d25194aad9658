-- wrk script of bench/compare.sh: cycles through presigned URLs read from a
-- file, one per line, all on the host wrk was started with.
--   wrk ... -s bench/compare.lua <any one of the URLs> -- FILE [METHOD [BODY_BYTES]]
-- METHOD defaults to GET; BODY_BYTES > 0 sends a body of that many bytes
-- (wrk adds Content-Length), for presigned PUTs with UNSIGNED-PAYLOAD.
local paths = {}
local method = "GET"
local body = nil
local i = 0

function init(args)
  local file = args[1]
  if file == nil then error("compare.lua: no URL file given (wrk ... -- FILE)") end
  for line in io.lines(file) do
    local path = line:match("^https?://[^/]+(/.*)$")
    if path == nil then error("compare.lua: " .. file .. ": not an http URL: " .. line) end
    paths[#paths + 1] = path
  end
  if #paths == 0 then error("compare.lua: " .. file .. ": no URLs") end
  method = args[2] or "GET"
  local n = tonumber(args[3] or "0")
  if n == nil or n < 0 then error("compare.lua: body size " .. tostring(args[3]) .. ": want a byte count") end
  if n > 0 then body = string.rep("b", n) end
  -- Start each thread at its own place in the list.
  i = math.random(#paths) - 1
end

function request()
  i = i % #paths + 1
  return wrk.format(method, paths[i], nil, body)
end
