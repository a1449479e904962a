-- wrk script: GET a random line of the file named by the URLS environment variable.
local urls = {}
for line in io.lines(os.getenv("URLS")) do
  if #line > 0 then urls[#urls + 1] = line end
end
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(seed * 7919 + os.time())
end
function request()
  return wrk.format("GET", urls[math.random(#urls)], {["Accept"] = "application/fhir+json"})
end
