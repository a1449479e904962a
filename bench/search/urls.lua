-- wrk script: GET a random line of the file named by the URLS environment variable, with
-- the bearer token of MA_TOKEN when set.
local urls = {}
for line in io.lines(os.getenv("URLS")) do
  if #line > 0 then urls[#urls + 1] = line end
end
local headers = {["Accept"] = "application/fhir+json"}
local token = os.getenv("MA_TOKEN")
if token and #token > 0 then headers["Authorization"] = "Bearer " .. token end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(seed * 7919 + os.time())
end
function request()
  return wrk.format("GET", urls[math.random(#urls)], headers)
end
