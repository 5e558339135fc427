-- wrk script of `edge bench checkout`: POST a 5-line sale body to the URL's path.
--
-- Arguments after `--`: CODES_FILE (one barcode per line), NONCE (8 hex digits, one per
-- benchmark run), RUN (this wrk invocation's number) and TOKENS_FILE (line N: the API token
-- of till TN; each wrk thread is one till and sells with its token). Every request gets a fresh sale id,
-- NONCE-RUN-4<thread>-8000-<counter>, unique across threads and invocations. `done` prints
-- machine-readable lines starting with "EDGEBENCH" for edge/bench/checkout.py: the summary and
-- errors, responses by status, the ids sent but not answered with their id (in flight when wrk
-- stopped), the first failing response of each thread, and wrk's latency histogram in
-- microseconds (the one its --latency percentiles come from, coordinated-omission corrected).

local LINES = 5
local STRIDE = 37 -- coprime with the product count, so a sale's lines are distinct products

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_no", thread_count)
  threads[thread_count] = thread
end

local codes = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      codes[#codes + 1] = line
    end
  end
  if #codes == 0 then
    error("no barcodes in " .. args[1])
  end
  local run = tonumber(args[3])
  prefix = string.format("%s-%04x-4%03x-8000-", args[2], run, thread_no)
  local tokens = {}
  for line in io.lines(args[4]) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  if tokens[thread_no] == nil then
    error("no token for till T" .. thread_no .. " in " .. args[4])
  end
  wrk.headers["Authorization"] = "Bearer " .. tokens[thread_no]
  math.randomseed(run * 1000 + thread_no)
  sent = 0
  verified = thread_no ~= 1 -- wrk calls thread 1's request() once to check it, never sends it
  answered = {}
  statuses = {}
  failure = ""
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local number = 0
  if verified then
    sent = sent + 1
    number = sent
  end
  verified = true
  local n = #codes
  local first = math.random(n)
  local lines = {}
  for k = 0, LINES - 1 do
    lines[k + 1] = string.format(
      '{"code":"%s","quantity":%d}', codes[(first + STRIDE * k - 1) % n + 1], math.random(3)
    )
  end
  local body = string.format(
    '{"id":"%s%012x","lines":[%s],"tenders":[{"kind":"cash","amount":10000000}]}',
    prefix, number, table.concat(lines, ",")
  )
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local id = string.match(body, '"id":%s*"([%x%-]+)"')
  if id ~= nil and #id == 36 and string.sub(id, 1, #prefix) == prefix then
    answered[tonumber(string.sub(id, #prefix + 1), 16)] = true
  end
  if status ~= 201 and failure == "" then
    failure = status .. " " .. (string.gsub(string.sub(body, 1, 300), "%s+", " "))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "EDGEBENCH summary %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout
  ))
  local by_status = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + count
    end
    local thread_sent = thread:get("sent")
    local thread_answered = thread:get("answered")
    local thread_prefix = thread:get("prefix")
    io.write(string.format("EDGEBENCH sent %d\n", thread_sent))
    for i = 1, thread_sent do
      if not thread_answered[i] then
        io.write(string.format("EDGEBENCH unanswered %s%012x\n", thread_prefix, i))
      end
    end
    local thread_failure = thread:get("failure")
    if thread_failure ~= "" then
      io.write("EDGEBENCH failure " .. thread_failure .. "\n")
    end
  end
  for status, count in pairs(by_status) do
    io.write(string.format("EDGEBENCH status %d %d\n", status, count))
  end
  for i = 1, #latency do
    local value, count = latency(i)
    io.write(string.format("EDGEBENCH latency %d %d\n", value, count))
  end
end
