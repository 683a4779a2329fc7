/**
 * The Lua scripts of the Redis backend (see keys.ts for the key layout). Every
 * compound write is one script, so Redis applies it whole or not at all, and no write is a
 * read-then-write from the client.
 *
 * Every write script has the same first keys and argument:
 *   KEYS[1] the run record (the run must exist; createRun: must not), KEYS[2] the run's
 *   receipts (nonce → result), KEYS[3] the receipt order (a list of nonces, oldest first);
 *   ARGV[1] the nonce the client made for this call (the same on every retry of it).
 * A script first looks for its nonce among the receipts: when it is there, the call's effect
 * is already stored (an earlier attempt ran and its reply was lost), and the script returns
 * the recorded result instead of applying the write again. After applying a write it records
 * its receipt; only the newest RECEIPTS receipts of a run are kept.
 *
 * Scripts run through EVALSHA, falling back to EVAL when the server does not know the script
 * (NOSCRIPT: after a restart the script cache is empty).
 */
import { createHash } from 'node:crypto';

/** Receipts kept per run: a write is recognised when retried before this many later writes to its run. */
export const RECEIPTS = 10_000;

export interface Script {
  name: string;
  source: string;
  sha: string;
}

function script(name: string, body: string): Script {
  const source = `${PRELUDE}\n${body}`;
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

const PRELUDE = `
local nonce = ARGV[1]
local function receipt()
  return redis.call('HGET', KEYS[2], nonce)
end
local function remember(result)
  redis.call('HSET', KEYS[2], nonce, result)
  redis.call('RPUSH', KEYS[3], nonce)
  if redis.call('LLEN', KEYS[3]) > ${RECEIPTS} then
    redis.call('HDEL', KEYS[2], redis.call('LPOP', KEYS[3]))
  end
end
local function run_exists()
  return redis.call('EXISTS', KEYS[1]) == 1
end
local function no_run()
  return redis.error_reply('NORUN no such run')
end
-- HSET of the field/value pairs ARGV[from..to], a hundred pairs per call
local function hset_pairs(key, from, to)
  local i = from
  while i < to do
    local last = math.min(i + 199, to)
    redis.call('HSET', key, unpack(ARGV, i, last))
    i = last + 1
  end
end
-- writes log entry seq once (false when the number is taken) and tells the log's watchers.
-- A topic's log (topic ~= '') is a stream whose entry ids are 0-<number>, so only numbers
-- above the newest can be written.
local function put_entry(hash, seqs, seq, body, topics, topic)
  if topic ~= '' then
    local r = redis.pcall('XADD', hash, '0-' .. seq, 'b', body)
    if type(r) == 'table' and r.err then
      if string.find(r.err, 'equal or smaller', 1, true) then return false end
      error(r)
    end
    redis.call('SADD', topics, topic)
  else
    if redis.call('HSETNX', hash, seq, body) == 0 then return false end
    redis.call('ZADD', seqs, seq, seq)
  end
  redis.call('PUBLISH', hash, seq)
  return true
end
-- the number of a topic stream's newest entry, 0 when it is empty
local function stream_top(stream)
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
  if last then return tonumber(string.sub(last[1], 3)) end
  return 0
end
-- the highest member of a sorted set of numbers, 0 when it is empty
local function top(zset)
  local t = redis.call('ZRANGE', zset, 0, 0, 'REV')[1]
  if t then return tonumber(t) end
  return 0
end
`;

/**
 * createRun. KEYS[4] the plan text, KEYS[5] the run registry; ARGV[2] the run id, ARGV[3] its
 * registry score (startedAt in ms), ARGV[4] the plan text, ARGV[5..] record field/value pairs.
 */
export const CREATE_RUN = script(
  'createRun',
  `
local done = receipt()
if done then return done end
if run_exists() then return redis.error_reply('EXISTS the run exists') end
hset_pairs(KEYS[1], 5, #ARGV)
redis.call('SET', KEYS[4], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[2])
remember('created')
return 'created'
`,
);

/**
 * updateRun: replaces top-level fields of the record, removes the ones set to undefined.
 * KEYS[4] the run registry; ARGV[2] the run id, ARGV[3] the new registry score ('' when
 * startedAt is not patched), ARGV[4] n, ARGV[5..4+2n] field/value pairs, then fields to
 * remove. Returns the whole record (field, value, …).
 */
export const UPDATE_RUN = script(
  'updateRun',
  `
if not receipt() then
  if not run_exists() then return no_run() end
  local n = tonumber(ARGV[4])
  if n > 0 then hset_pairs(KEYS[1], 5, 4 + 2 * n) end
  for i = 5 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
  if ARGV[3] ~= '' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2]) end
  remember('updated')
end
return redis.call('HGETALL', KEYS[1])
`,
);

/** Sets fields of a hash of records (streams, points, proposals). KEYS[4] the hash; ARGV[2..] field/value pairs. */
export const PUT_FIELDS = script(
  'putFields',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
hset_pairs(KEYS[4], 2, #ARGV)
remember('1')
return '1'
`,
);

/** Replaces a string value (the pool records). KEYS[4] the key; ARGV[2] the value. */
export const PUT_VALUE = script(
  'putValue',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
redis.call('SET', KEYS[4], ARGV[2])
remember('1')
return '1'
`,
);

/** Appends events (a batch, in order) to the run's event list. KEYS[4] the list; ARGV[2..] the events. */
export const APPEND_EVENTS = script(
  'appendEvents',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
local i = 2
while i <= #ARGV do
  local last = math.min(i + 199, #ARGV)
  redis.call('RPUSH', KEYS[4], unpack(ARGV, i, last))
  i = last + 1
end
remember('1')
return '1'
`,
);

/**
 * docCommit and docRestore. KEYS[4] the run's topic names, KEYS[5] the document's versions
 * (version → body), KEYS[6] its version numbers (a sorted set), KEYS[7] the consumer names of
 * the document's topic (consumer cursors only), KEYS[8..] (log hash, log numbers) per log
 * entry carried. ARGV[2] 'commit' or 'restore', ARGV[3] the expected version (commit) or the
 * version to store (restore), ARGV[4] the version's body, ARGV[5] how many versions to keep,
 * ARGV[6] and ARGV[7] the topic and name of a consumer cursor ('' otherwise), ARGV[8..]
 * (body, topic name or '') per log entry.
 *
 * Commit stores version expected+1 when expected is the newest version; restore stores the
 * version when it is above every stored one. Either way the versions beyond the newest `keep`
 * are removed and the log entries are written at the version's number (where that number is
 * free), in the same script: the logs never have holes. Returns the version's number, or nil
 * when another writer moved the document first (nothing written).
 */
export const DOC_WRITE = script(
  'docWrite',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
local head = top(KEYS[6])
local n = tonumber(ARGV[3])
local v
if ARGV[2] == 'commit' then
  if head ~= n then return false end
  v = n + 1
else
  if head >= n then return false end
  v = n
end
local vs = string.format('%d', v)
redis.call('HSET', KEYS[5], vs, ARGV[4])
redis.call('ZADD', KEYS[6], vs, vs)
local extra = redis.call('ZCARD', KEYS[6]) - tonumber(ARGV[5])
if extra > 0 then
  for _, old in ipairs(redis.call('ZRANGE', KEYS[6], 0, extra - 1)) do redis.call('HDEL', KEYS[5], old) end
  redis.call('ZREMRANGEBYRANK', KEYS[6], 0, extra - 1)
end
if ARGV[6] ~= '' then
  redis.call('SADD', KEYS[4], ARGV[6])
  redis.call('SADD', KEYS[7], ARGV[7])
end
local k, a = 8, 8
while KEYS[k] do
  put_entry(KEYS[k], KEYS[k + 1], vs, ARGV[a], KEYS[4], ARGV[a + 1])
  k, a = k + 2, a + 2
end
remember(vs)
return vs
`,
);

/**
 * logAppend: writes the entry at one past the newest. KEYS[4] the run's topic names, KEYS[5]
 * the log (seq → body), KEYS[6] its numbers (a topic: KEYS[5] and KEYS[6] are its stream);
 * ARGV[2] the body, ARGV[3] the topic name or ''.
 * Returns the entry's number.
 */
export const LOG_APPEND = script(
  'logAppend',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
local head
if ARGV[3] ~= '' then head = stream_top(KEYS[5]) else head = top(KEYS[6]) end
local seq = string.format('%d', head + 1)
if not put_entry(KEYS[5], KEYS[6], seq, ARGV[2], KEYS[4], ARGV[3]) then
  return redis.error_reply('ERR log entry ' .. seq .. ' exists above the newest number')
end
remember(seq)
return seq
`,
);

/**
 * logPut: writes entry ARGV[2] when that number is free. Keys as logAppend; ARGV[3] the body,
 * ARGV[4] the topic name or ''. Returns the number, or nil when it is taken.
 */
export const LOG_PUT = script(
  'logPut',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
if not put_entry(KEYS[5], KEYS[6], ARGV[2], ARGV[3], KEYS[4], ARGV[4]) then return false end
remember(ARGV[2])
return ARGV[2]
`,
);

/**
 * A queue consumer takes a message (see stream-queues.ts). A consumer is a consumer
 * group of the topic's stream, created at the first message on its first take; its members
 * are the group's consumers. KEYS[4] the run's topic names, KEYS[5] the topic's stream,
 * KEYS[6] the topic's consumer names, KEYS[7] the consumer's ack timeouts (message number →
 * ms); ARGV[2] the topic, ARGV[3] the consumer, ARGV[4] the member, ARGV[5] the ack timeout in
 * ms or '' (none: the message is done once handed out).
 *
 * First the oldest pending entry (handed out, not acknowledged) whose idle time reached its
 * ack timeout is claimed for the member (XCLAIM counts the delivery); else the group's next
 * entry is read (XREADGROUP, with NOACK when there is no ack timeout). Returns
 * {result, body}: result is the JSON {id, delivery, from} of a delivery (also the receipt, so
 * a retried call answers the same delivery, with body false), or {wait} (ms until the
 * nearest ack timeout runs out, -1: none) when there is nothing to take.
 */
export const QUEUE_TAKE = script(
  'queueTake',
  `
local done = receipt()
if done then return { done, false } end
if not run_exists() then return no_run() end
local stream, group, member, timeout = KEYS[5], ARGV[3], ARGV[4], ARGV[5]
if redis.call('SISMEMBER', KEYS[6], group) == 0 then
  local r = redis.pcall('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM')
  if type(r) == 'table' and r.err and not string.find(r.err, 'BUSYGROUP', 1, true) then error(r) end
  redis.call('SADD', KEYS[6], group)
  redis.call('SADD', KEYS[4], ARGV[2])
end
local function number(id) return string.sub(id, 3) end
local expired, prev, count
local wait = -1
local start = '-'
while not expired do
  local page = redis.call('XPENDING', stream, group, start, '+', 200)
  if #page == 0 then break end
  local ids = {}
  for i, e in ipairs(page) do ids[i] = number(e[1]) end
  local limits = redis.call('HMGET', KEYS[7], unpack(ids))
  for i, e in ipairs(page) do
    local limit = tonumber(limits[i]) or 0
    if e[3] >= limit then
      expired, prev, count = e[1], e[2], e[4]
      break
    end
    if wait < 0 or limit - e[3] < wait then wait = limit - e[3] end
  end
  start = '(' .. page[#page][1]
end
local id, body, delivery, from
if expired then
  local claimed = redis.call('XCLAIM', stream, group, member, 0, expired)
  if #claimed == 0 then
    -- the entry is gone (coord never deletes one): drop the delivery and look again
    redis.call('XACK', stream, group, expired)
    return { cjson.encode({ wait = 0 }), false }
  end
  id, delivery, from = expired, count + 1, prev
  body = claimed[1][2][2]
else
  local r
  if timeout == '' then
    r = redis.call('XREADGROUP', 'GROUP', group, member, 'COUNT', 1, 'NOACK', 'STREAMS', stream, '>')
  else
    r = redis.call('XREADGROUP', 'GROUP', group, member, 'COUNT', 1, 'STREAMS', stream, '>')
  end
  if not r then return { cjson.encode({ wait = wait }), false } end
  local e = r[1][2][1]
  id, body, delivery, from = e[1], e[2][2], 1, false
end
local n = number(id)
if timeout == '' then
  if expired then redis.call('XACK', stream, group, id) end
  redis.call('HDEL', KEYS[7], n)
else
  redis.call('HSET', KEYS[7], n, timeout)
end
local result = cjson.encode({ id = tonumber(n), delivery = delivery, from = from })
remember(result)
return { result, body }
`,
);

/**
 * A queue consumer acknowledges message ARGV[3] (XACK): KEYS[4] the topic's stream, KEYS[5]
 * the consumer's ack timeouts; ARGV[2] the consumer. Returns '1' when it was pending, '0'
 * when not.
 */
export const QUEUE_ACK = script(
  'queueAck',
  `
local done = receipt()
if done then return done end
if not run_exists() then return no_run() end
local r = redis.pcall('XACK', KEYS[4], ARGV[2], '0-' .. ARGV[3])
local n = '0'
if type(r) == 'number' and r > 0 then n = '1' end
redis.call('HDEL', KEYS[5], ARGV[3])
remember(n)
return n
`,
);

function readScript(name: string, source: string): Script {
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

/** The newest version of a document: {number, body}, or nil. KEYS[1] versions, KEYS[2] version numbers. */
export const DOC_READ = readScript(
  'docRead',
  `
local t = redis.call('ZRANGE', KEYS[2], 0, 0, 'REV')[1]
if not t then return false end
local body = redis.call('HGET', KEYS[1], t)
if not body then return false end
return { t, body }
`,
);

/**
 * Log entries from ARGV[1] on, at most ARGV[2]: seq, body, seq, body, … KEYS[1] the log,
 * KEYS[2] its numbers. One ZRANGE BYSCORE (O(log n + count)) and one HMGET.
 */
export const LOG_RANGE = readScript(
  'logRange',
  `
local seqs = redis.call('ZRANGE', KEYS[2], ARGV[1], '+inf', 'BYSCORE', 'LIMIT', 0, ARGV[2])
if #seqs == 0 then return {} end
local bodies = redis.call('HMGET', KEYS[1], unpack(seqs))
local out = {}
for i, s in ipairs(seqs) do
  if bodies[i] then
    out[#out + 1] = s
    out[#out + 1] = bodies[i]
  end
end
return out
`,
);

/**
 * sharedCommit: compare-and-set of a shared document (not in a run; see shared-docs.ts).
 * KEYS[1] the document (HASH: `v` its version, `data` its text), KEYS[2] the receipts of its
 * collection, KEYS[3] their order, KEYS[4] the collection's set of names; ARGV[2] the expected
 * version (0: none yet), ARGV[3] the new text, ARGV[4] the document's name. Stores version
 * expected+1 when `expected` is the current version, adds the name to the collection, and
 * PUBLISHes the new version on the document's key. Returns the version, or nil when another
 * writer moved the document first (nothing written).
 */
export const SHARED_COMMIT = script(
  'sharedCommit',
  `
local done = receipt()
if done then return done end
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if cur ~= tonumber(ARGV[2]) then return false end
local vs = string.format('%d', cur + 1)
redis.call('HSET', KEYS[1], 'v', vs, 'data', ARGV[3])
redis.call('SADD', KEYS[4], ARGV[4])
redis.call('PUBLISH', KEYS[1], vs)
remember(vs)
return vs
`,
);
