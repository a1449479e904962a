-- wrk script: POST Patient/$match with the bodies of $MA_MATCH_BODIES (one per line), in turn.
local bodies = {}
for line in io.lines(os.getenv("MA_MATCH_BODIES")) do
  bodies[#bodies + 1] = line
end
local headers = { ["Content-Type"] = "application/fhir+json" }
local next_body = math.random(#bodies)

request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", "/Patient/$match", headers, bodies[next_body])
end

local errors = 0
response = function(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    if errors <= 3 then
      io.stderr:write("status " .. status .. ": " .. body:sub(1, 200) .. "\n")
    end
  end
end
