//! The Redis-backed feature store: the same windows as the embedded store,
//! kept in Redis so a fleet of edge nodes shares them.
//!
//! Each entity's events are a sorted set (`es:<namespace>:<entity>`) scored
//! by event time; a member is `<time>:<sequence>:<value>:<distinct key>`,
//! the sequence (from one counter per entity) ordering events of the same
//! millisecond by arrival, as the embedded store does. Every call is one Lua
//! script, which Redis runs atomically: two nodes observing the same card at
//! once both count, and each sees the other's event or not, never half.
//! Sums add in time order in Lua's doubles, so the embedded and the Redis
//! store give bit-identical aggregates. Retention is measured back from the
//! event being observed, or from the host's clock when the event is dated
//! ahead of it, as in the embedded store: one event dated far ahead cannot
//! push the others out. Keys expire after the retention, so
//! memory is bounded by the active entities; point features (`lookup`) live
//! in a hash `es:<namespace>:<entity>:points`. An observation's receipt is
//! its time and sequence, which name its member exactly: `forget` removes
//! that member and no other.
//!
//! A component's call deadline cannot interrupt a host call, so every call
//! here bounds its own waits: setting up a new connection and each wait for
//! Redis's reply take at most [`RedisOptions::timeout`] in the operations a
//! component calls (below the call deadline), [`RedisOptions::host_timeout`]
//! in those only the host calls; past it the call fails as
//! [`StoreError::Unavailable`] (the host answers 503) instead of stalling
//! the component. The connection of a failed call is dropped, and when
//! Redis could not be reached or did not answer, so are the idle ones: the
//! next call connects anew, so a Redis that comes back is used again.
//!
//! An observation whose reply timed out may still be applied, when a
//! stalled Redis catches up: the request fails, and the event counts
//! without a score, as when a host dies after observing.

use std::time::{Duration, Instant};

use edgescore_runtime::feature_store::{
    Aggregate, EmbeddedLimits, FeatureStore, Observation, Observed, Receipt, StoreError, Window,
    check_request,
};
use parking_lot::Mutex;

mod journal;
#[cfg(test)]
mod tests;

/// How a [`RedisStore`] talks to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisOptions {
    /// The longest one call a component makes (`lookup`, `observe`, `read`)
    /// waits on Redis before it fails as [`StoreError::Unavailable`]: the
    /// set-up of a new connection and each wait for a reply share it (a
    /// call that finds its script not loaded yet waits twice more, each
    /// bounded by it). Keep it below the call
    /// deadline ([`edgescore_runtime::limits::Limits::call_deadline`]).
    ///
    /// The default is half the default deadline, 5 ms of 10: a component
    /// whose store call stalls gets the error and fails with a 503 before
    /// the deadline interrupts it, with the other half left for its own
    /// work; a healthy Redis nearby answers in well under a millisecond, so
    /// 5 ms means a stalled or unreachable one, not a slow call.
    pub timeout: Duration,
    /// The same for the calls only the host makes, never inside a component
    /// call: the start-up check, `forget` (taking back a failed request's
    /// observations, which had better not fail on a busy Redis) and `put`
    /// (loading point features).
    pub host_timeout: Duration,
    /// The retention and per-entity cap (Redis bounds memory by expiry:
    /// `max_entities` and `max_bytes` do not apply).
    pub limits: EmbeddedLimits,
    /// Idle connections kept for the next calls.
    pub max_idle: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            timeout: edgescore_runtime::limits::Limits::default().call_deadline / 2,
            host_timeout: Duration::from_secs(2),
            limits: EmbeddedLimits::default(),
            max_idle: 64,
        }
    }
}

/// Observes (ARGV[7] = "1") or reads one entity's windows.
///
/// KEYS: the events set, the sequence counter, and optionally a journal
/// list. ARGV: time, value, has distinct key, distinct key, retention ms,
/// max events, observe, the host's clock in ms, the journal entry's start
/// (`["o", namespace, entity, time,`, which the sequence number and `]`
/// end; each event retention or the cap drops is journalled as
/// `["p", events key, time, member]`),
/// then per window its aggregate code (c, s, d, g) and length in ms. An
/// observation answers the event's sequence number first, then the
/// windows; with a journal it also appends the entry to it.
const SCRIPT: &str = r#"
local events, counter = KEYS[1], KEYS[2]
local t = tonumber(ARGV[1])
local observe = ARGV[7] == "1"
local out = {}
if observe then
  local seq = redis.call("INCR", counter)
  local member = ARGV[1] .. ":" .. string.format("%020d", seq) .. ":" .. ARGV[2] .. ":" .. ARGV[3] .. ARGV[4]
  redis.call("ZADD", events, t, member)
  if KEYS[3] then
    redis.call("RPUSH", KEYS[3], ARGV[9] .. tostring(seq) .. "]")
  end
  local cutoff = math.min(t, tonumber(ARGV[8])) - tonumber(ARGV[5])
  local over = -(tonumber(ARGV[6]) + 1)
  -- With a journal, what retention and the cap drop is journalled too, so
  -- that undoing the batch puts it back (a later event of the batch must
  -- not take an earlier one's window away).
  local function journal_dropped(list)
    for i = 1, #list, 2 do
      redis.call("RPUSH", KEYS[3], cjson.encode({"p", events, list[i + 1], list[i]}))
    end
  end
  if KEYS[3] then
    journal_dropped(redis.call("ZRANGEBYSCORE", events, "-inf", cutoff, "WITHSCORES"))
  end
  redis.call("ZREMRANGEBYSCORE", events, "-inf", cutoff)
  if KEYS[3] then
    journal_dropped(redis.call("ZRANGE", events, 0, over, "WITHSCORES"))
  end
  redis.call("ZREMRANGEBYRANK", events, 0, over)
  redis.call("PEXPIRE", events, ARGV[5])
  redis.call("PEXPIRE", counter, ARGV[5])
  table.insert(out, tostring(seq))
end
local i = 10
while i <= #ARGV do
  local kind, span = ARGV[i], tonumber(ARGV[i + 1])
  local members = redis.call("ZRANGEBYSCORE", events, "(" .. (t - span), t)
  local result = false
  if kind == "c" then
    result = #members
  elseif kind == "s" then
    local sum = 0
    for _, m in ipairs(members) do
      local _, _, value = string.match(m, "^([^:]*):([^:]*):([^:]*):")
      sum = sum + tonumber(value)
    end
    result = sum
  elseif kind == "d" then
    local seen, n = {}, 0
    for _, m in ipairs(members) do
      local has, key = string.match(m, "^[^:]*:[^:]*:[^:]*:(.)(.*)$")
      if has == "1" and not seen[key] then
        seen[key] = true
        n = n + 1
      end
    end
    result = n
  else
    local back = observe and 1 or 0
    local previous = members[#members - back]
    if previous then
      local ts = tonumber(string.match(previous, "^([^:]*):"))
      result = (t - ts) / 1000
    end
  end
  if result then
    table.insert(out, string.format("%.17g", result))
  else
    table.insert(out, "")
  end
  i = i + 2
end
return out
"#;

/// Removes the members that receipts name. KEYS: one events set per
/// receipt; ARGV: that receipt's time and sequence number, in pairs. A
/// member starts with its time and zero-padded sequence, which no other
/// member of the set shares.
const FORGET: &str = r#"
for i, events in ipairs(KEYS) do
  local t = ARGV[2 * i - 1]
  local prefix = t .. ":" .. string.format("%020d", tonumber(ARGV[2 * i])) .. ":"
  for _, m in ipairs(redis.call("ZRANGEBYSCORE", events, t, t)) do
    if string.sub(m, 1, #prefix) == prefix then
      redis.call("ZREM", events, m)
    end
  end
end
return 0
"#;

/// Receipts forgotten per script call (each call holds the keys it touches).
const FORGET_PER_CALL: usize = 512;

/// Online features in Redis. Connections are pooled; a call that finds
/// Redis unreachable, or that Redis does not answer within
/// [`RedisOptions::timeout`], fails as `unavailable` (the transform then
/// refuses the event; the host answers 503, not a wrong score).
pub struct RedisStore {
    client: redis::Client,
    script: redis::Script,
    forget: redis::Script,
    options: RedisOptions,
    idle: Mutex<Vec<redis::Connection>>,
    /// The journal list observations are also appended to (see
    /// [`RedisStore::begin_journal`]).
    journal: Mutex<Option<String>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port[/db]`) with the default
    /// [`RedisOptions`] and checks Redis answers.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, RedisOptions::default())
    }

    /// Like [`RedisStore::connect`] with the retention and per-entity cap of `limits`.
    pub fn with_limits(url: &str, limits: EmbeddedLimits) -> Result<Self, StoreError> {
        Self::connect_with(
            url,
            RedisOptions {
                limits,
                ..RedisOptions::default()
            },
        )
    }

    /// Connects to `url` with `options` and checks Redis answers within
    /// the host timeout; fails as unavailable when it does not.
    pub fn connect_with(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| redis_error(&e))?;
        let store = Self {
            client,
            script: redis::Script::new(SCRIPT),
            forget: redis::Script::new(FORGET),
            options,
            idle: Mutex::new(Vec::new()),
            journal: Mutex::new(None),
        };
        let timeout = options.host_timeout;
        let mut connection = store
            .client
            .get_connection_with_timeout(timeout)
            .map_err(|e| redis_error(&e))?;
        connection
            .set_read_timeout(Some(timeout))
            .and_then(|()| connection.set_write_timeout(Some(timeout)))
            .and_then(|()| redis::cmd("PING").query::<String>(&mut connection))
            .map_err(|e| redis_error(&e))?;
        store.give_back(connection);
        Ok(store)
    }

    fn give_back(&self, connection: redis::Connection) {
        let mut idle = self.idle.lock();
        if idle.len() < self.options.max_idle {
            idle.push(connection);
        }
    }

    /// Runs `f` on a pooled connection, or a new one, each wait bounded by
    /// what is left of `timeout`. A connection whose call failed is
    /// dropped: a reply may still be on its way, which the next command
    /// would read as its own.
    fn with_connection<R>(
        &self,
        timeout: Duration,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<R>,
    ) -> Result<R, StoreError> {
        let started = Instant::now();
        let pooled = self.idle.lock().pop();
        let mut connection = match pooled {
            Some(connection) => connection,
            None => self
                .client
                .get_connection_with_timeout(timeout)
                .map_err(|e| self.failed(&e, timeout))?,
        };
        let Some(left) = timeout
            .checked_sub(started.elapsed())
            .filter(|left| !left.is_zero())
        else {
            self.give_back(connection);
            return Err(StoreError::Unavailable(format!(
                "connecting to Redis took the whole timeout of {timeout:?}"
            )));
        };
        let result = connection
            .set_read_timeout(Some(left))
            .and_then(|()| connection.set_write_timeout(Some(left)))
            .and_then(|()| f(&mut connection));
        match result {
            Ok(value) => {
                self.give_back(connection);
                Ok(value)
            }
            Err(e) => Err(self.failed(&e, timeout)),
        }
    }

    /// What a call that failed with `e`, waiting up to `timeout`, answers.
    /// When Redis could not be reached or did not answer, the idle
    /// connections are dropped too (they lead to the same Redis): the next
    /// call connects anew.
    fn failed(&self, e: &redis::RedisError, timeout: Duration) -> StoreError {
        if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
            self.idle.lock().clear();
        }
        if e.is_timeout() {
            return StoreError::Unavailable(format!(
                "Redis did not answer within {timeout:?}: {e}"
            ));
        }
        redis_error(e)
    }

    fn check_windows(&self, windows: &[Window]) -> Result<(), StoreError> {
        edgescore_runtime::feature_store::check_retention(
            windows,
            self.options.limits.retention_seconds,
        )
    }

    /// Runs the script: with `event`, observes it and answers its sequence
    /// number and the windows; without, reads the windows at `timestamp_ms`.
    fn run(
        &self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        event: Option<&Observation>,
        windows: &[Window],
    ) -> Result<(Option<u64>, Vec<Option<f64>>), StoreError> {
        check_request(namespace, entity, windows)?;
        self.check_windows(windows)?;
        let key = format!("es:{namespace}:{entity}");
        let mut invocation = self.script.prepare_invoke();
        invocation.key(&key).key(format!("{key}:seq"));
        let journal = self.journal.lock().clone().filter(|_| event.is_some());
        let entry = match &journal {
            Some(list) => {
                invocation.key(list);
                let start = serde_json::json!(["o", namespace, entity, timestamp_ms]).to_string();
                format!("{},", start.trim_end_matches(']'))
            }
            None => String::new(),
        };
        let (value, distinct) = match event {
            Some(e) => (e.value, e.distinct_key.as_deref()),
            None => (0.0, None),
        };
        invocation
            .arg(timestamp_ms)
            .arg(format!("{value:?}"))
            .arg(if distinct.is_some() { "1" } else { "0" })
            .arg(distinct.unwrap_or(""))
            .arg(i64::from(self.options.limits.retention_seconds) * 1000)
            .arg(self.options.limits.max_events_per_entity)
            .arg(if event.is_some() { "1" } else { "0" })
            .arg(edgescore_runtime::feature_store::now_ms())
            .arg(entry);
        for w in windows {
            let code = match w.aggregate {
                Aggregate::Count => "c",
                Aggregate::Sum => "s",
                Aggregate::DistinctCount => "d",
                Aggregate::SecondsSinceLast => "g",
            };
            invocation.arg(code).arg(i64::from(w.seconds) * 1000);
        }
        let mut values: Vec<String> =
            self.with_connection(self.options.timeout, |c| invocation.invoke(c))?;
        let sequence = match event {
            Some(_) if !values.is_empty() => {
                let first = values.remove(0);
                Some(first.parse::<u64>().map_err(|_| {
                    StoreError::Unavailable(format!(
                        "Redis returned {first:?}, not a sequence number"
                    ))
                })?)
            }
            _ => None,
        };
        if values.len() != windows.len() || (event.is_some() && sequence.is_none()) {
            return Err(StoreError::Unavailable(format!(
                "Redis returned {} values for {} windows",
                values.len(),
                windows.len()
            )));
        }
        let values = values
            .iter()
            .map(|v| match v.as_str() {
                "" => Ok(None),
                text => text.parse::<f64>().map(Some).map_err(|_| {
                    StoreError::Unavailable(format!("Redis returned {text:?}, not a number"))
                }),
            })
            .collect::<Result<_, _>>()?;
        Ok((sequence, values))
    }
}

fn redis_error(e: &redis::RedisError) -> StoreError {
    StoreError::Unavailable(format!("Redis: {e}"))
}

impl FeatureStore for RedisStore {
    fn is_remote(&self) -> bool {
        true
    }

    fn lookup(
        &self,
        namespace: &str,
        entity: &str,
        names: &[String],
    ) -> Result<Vec<Option<f64>>, StoreError> {
        check_request(namespace, entity, &[])?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let key = format!("es:{namespace}:{entity}:points");
        self.with_connection(self.options.timeout, |c| {
            redis::cmd("HMGET").arg(&key).arg(names).query(c)
        })
    }

    fn put(&self, namespace: &str, entity: &str, name: &str, value: f64) -> Result<(), StoreError> {
        check_request(namespace, entity, &[])?;
        let key = format!("es:{namespace}:{entity}:points");
        self.with_connection(self.options.host_timeout, |c| {
            redis::cmd("HSET")
                .arg(&key)
                .arg(name)
                .arg(format!("{value:?}"))
                .query::<()>(c)
        })
    }

    fn observe(
        &self,
        namespace: &str,
        entity: &str,
        event: &Observation,
        windows: &[Window],
    ) -> Result<Observed, StoreError> {
        edgescore_runtime::feature_store::check_observation(event)?;
        let (sequence, values) =
            self.run(namespace, entity, event.timestamp_ms, Some(event), windows)?;
        Ok(Observed {
            values,
            receipt: Receipt {
                namespace: namespace.to_owned(),
                entity: entity.to_owned(),
                timestamp_ms: event.timestamp_ms,
                sequence: sequence.unwrap_or_default(),
            },
        })
    }

    fn forget(&self, receipts: &[Receipt]) -> Result<(), StoreError> {
        for part in receipts.chunks(FORGET_PER_CALL) {
            let mut invocation = self.forget.prepare_invoke();
            for r in part {
                invocation
                    .key(format!("es:{}:{}", r.namespace, r.entity))
                    .arg(r.timestamp_ms)
                    .arg(r.sequence);
            }
            self.with_connection(self.options.host_timeout, |c| invocation.invoke::<i64>(c))?;
        }
        Ok(())
    }

    fn read(
        &self,
        namespace: &str,
        entity: &str,
        timestamp_ms: i64,
        windows: &[Window],
    ) -> Result<Vec<Option<f64>>, StoreError> {
        self.run(namespace, entity, timestamp_ms, None, windows)
            .map(|(_, values)| values)
    }
}
