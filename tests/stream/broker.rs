//! A real Kafka-protocol broker for the stream tests: `tansu` 0.6.0 (from
//! crates.io; `.ci/run` builds it once into `target/tools`), with SQLite
//! storage in a temporary folder, on a free port; killed when dropped.
//! Found by `EDGESCORE_TANSU` or under `target/tools/tansu-0.6.0*/`. CI
//! sets `EDGESCORE_REQUIRE_KAFKA=1`, so the tests cannot skip there.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Broker {
    child: Child,
    pub(crate) bootstrap: String,
    _dir: tempfile::TempDir,
}

/// One message as read back.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub(crate) partition: i32,
    pub(crate) key: Option<String>,
    pub(crate) value: String,
}

fn tansu() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EDGESCORE_TANSU") {
        return Some(PathBuf::from(path));
    }
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&tools)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("tansu-0.6.0"))
        .map(|e| e.path().join("bin/tansu"))
        .filter(|p| p.is_file())
        .collect();
    // The release build (no suffix) before a debug one.
    found.sort();
    found.into_iter().next()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

impl Broker {
    /// `None` when no broker is installed (and none is required).
    pub(crate) fn start() -> Option<Self> {
        let required = std::env::var_os("EDGESCORE_REQUIRE_KAFKA").is_some_and(|v| v == "1");
        let Some(binary) = tansu() else {
            assert!(
                !required,
                "EDGESCORE_REQUIRE_KAFKA=1 but no broker: set EDGESCORE_TANSU or build tansu into target/tools (see .ci/run)"
            );
            eprintln!(
                "skipping: no Kafka-protocol broker (set EDGESCORE_TANSU, or see .ci/run for building tansu into target/tools)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("its address")
            .port();
        let dir = tempfile::tempdir().expect("temporary folder");
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::fs::File::create(dir.path().join("broker.log")).expect("broker log");
        let child = Command::new(&binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
                "--storage-engine",
                "sqlite://tansu.db",
            ])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let broker = Self {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let consumer = broker.consumer(None);
            if consumer
                .fetch_metadata(None, Duration::from_secs(1))
                .is_ok()
            {
                break;
            }
            assert!(Instant::now() < deadline, "the broker did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(broker)
    }

    fn config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap)
            .set("broker.address.family", "v4");
        config
    }

    fn consumer(&self, group: Option<&str>) -> BaseConsumer {
        self.config()
            .set("group.id", group.unwrap_or("edgescore-tests-reader"))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false")
            .create()
            .expect("consumer")
    }

    pub(crate) fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self.config().create().expect("admin");
        let results = runtime()
            .block_on(admin.create_topics(
                &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new(),
            ))
            .expect("create topics");
        for result in results {
            result.unwrap_or_else(|(topic, e)| panic!("cannot create {topic}: {e}"));
        }
    }

    /// Produces `(key, value)` messages and waits for every acknowledgement.
    pub(crate) fn produce<'a>(
        &self,
        topic: &str,
        messages: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) {
        let producer: FutureProducer = self
            .config()
            .set("enable.idempotence", "true")
            .set("linger.ms", "20")
            .create()
            .expect("producer");
        let mut deliveries = Vec::new();
        for (key, value) in messages {
            let mut record = FutureRecord::to(topic).key(key).payload(value);
            loop {
                match producer.send_result(record) {
                    Ok(delivery) => {
                        deliveries.push(delivery);
                        break;
                    }
                    // The local queue is full: let it drain.
                    Err((_, back)) => {
                        record = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        runtime().block_on(async {
            for d in deliveries {
                d.await.expect("delivery").expect("delivered");
            }
        });
        producer.flush(TIMEOUT).expect("flush");
    }

    /// The end offset (the next to be written) of each partition.
    pub(crate) fn end_offsets(&self, topic: &str) -> BTreeMap<i32, i64> {
        let consumer = self.consumer(None);
        let metadata = consumer
            .fetch_metadata(Some(topic), TIMEOUT)
            .expect("metadata");
        let partitions = metadata.topics()[0].partitions().len() as i32;
        (0..partitions)
            .map(|p| {
                let (_, high) = consumer
                    .fetch_watermarks(topic, p, TIMEOUT)
                    .expect("watermarks");
                (p, high)
            })
            .collect()
    }

    /// The offsets `group` has committed on `topic` (0 where none).
    pub(crate) fn committed(&self, group: &str, topic: &str) -> BTreeMap<i32, i64> {
        let ends = self.end_offsets(topic);
        let consumer = self.consumer(Some(group));
        let mut list = TopicPartitionList::new();
        for p in ends.keys() {
            list.add_partition(topic, *p);
        }
        let committed = consumer
            .committed_offsets(list, TIMEOUT)
            .expect("committed offsets");
        ends.keys()
            .map(|p| {
                let offset = match committed.find_partition(topic, *p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => 0,
                };
                (*p, offset)
            })
            .collect()
    }

    /// Every message of `topic`, partition by partition.
    pub(crate) fn read_all(&self, topic: &str) -> Vec<Record> {
        let ends = self.end_offsets(topic);
        let consumer = self.consumer(None);
        let mut list = TopicPartitionList::new();
        for p in ends.keys() {
            list.add_partition_offset(topic, *p, Offset::Beginning)
                .expect("partition");
        }
        consumer.assign(&list).expect("assign");
        let total: i64 = ends.values().sum();
        let mut records = Vec::new();
        let deadline = Instant::now() + TIMEOUT * 4;
        while (records.len() as i64) < total {
            assert!(
                Instant::now() < deadline,
                "read {} of {total} messages of {topic}",
                records.len()
            );
            if let Some(m) = consumer.poll(Duration::from_millis(200)) {
                let m = m.expect("message");
                records.push(Record {
                    partition: m.partition(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    value: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                });
            }
        }
        records
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
