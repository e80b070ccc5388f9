//! A deterministic generator of realistic, imbalanced card transactions for
//! the fraud example: a population of cards with habits (home country,
//! usual merchants, typical amounts, own devices, daily rhythm), and rare
//! fraud in four patterns — card testing, account takeover, unusual
//! amounts, bursts of cloned-card use abroad. Well under 2% are fraud.
//!
//! ```text
//! cargo run --release -p edgescore --example fraud_generate -- \
//!     --days 60 --cards 3000 --seed 1 --output train.csv
//! ```
//!
//! The cards come from the seed alone and each day from its own stream, so
//! `--start-day 60 --days 14` is a held-out fortnight of the same cards.
//! The same arguments always give the same file (a fixed pseudo-random
//! generator, `libm` arithmetic). Columns: transaction_id, timestamp
//! (RFC 3339, UTC), card_id, amount, merchant_id, merchant_category,
//! channel (pos | online), country, home_country, device_id (online only),
//! is_fraud (0 | 1), pattern (empty, card_testing, account_takeover,
//! unusual_amount, burst).
//!
//! `--amount-scale X` (default 1) multiplies every amount by `X`, fraud
//! included, and changes nothing else: the same cards, times, merchants and
//! draws, so a file made with it is a known shift of the one made without
//! it, for exercising drift detection (`edgescore drift`). With the default
//! the output is unchanged.
//!
//! `--jsonl` writes JSON lines instead: one transaction per line, as a
//! client sends it to `/v1/pipelines/<p>/score` and as `edgescore stream`
//! reads it from Kafka (the transform's fields and `transaction_id`).

#![allow(dead_code, unreachable_pub, clippy::print_stdout)]

use std::io::Write;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub cards: usize,
    pub days: u32,
    /// The first day, counted from 2026-01-01 (a later start gives a held-out period).
    pub start_day: u32,
    /// Fraud episodes per card per day.
    pub fraud_rate: f64,
    /// Every amount is multiplied by this (a shifted population); 1 keeps
    /// them as drawn.
    pub amount_scale: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            seed: 1,
            cards: 3000,
            days: 60,
            start_day: 0,
            fraud_rate: 0.003,
            amount_scale: 1.0,
        }
    }
}

/// One generated transaction.
#[derive(Debug, Clone)]
pub struct Transaction {
    pub timestamp_ms: i64,
    pub card: usize,
    pub amount: f64,
    pub merchant: String,
    pub category: &'static str,
    pub channel: &'static str,
    pub country: &'static str,
    pub home_country: &'static str,
    pub device: Option<String>,
    pub pattern: &'static str,
}

/// 2026-01-01T00:00:00Z in milliseconds.
const EPOCH_2026_MS: i64 = 1_767_225_600_000;
const DAY_MS: i64 = 86_400_000;
const CATEGORIES: [&str; 8] = [
    "grocery",
    "fuel",
    "restaurant",
    "retail",
    "electronics",
    "travel",
    "gift_cards",
    "digital_goods",
];
/// Typical amount per category, relative to a card's own scale.
const CATEGORY_SCALE: [f64; 8] = [1.0, 0.9, 0.7, 1.6, 4.0, 6.0, 1.5, 0.4];
const HOME_COUNTRIES: [(&str, f64); 5] = [
    ("US", 0.70),
    ("GB", 0.10),
    ("DE", 0.08),
    ("FR", 0.07),
    ("CA", 0.05),
];
const ABROAD: [&str; 8] = ["MX", "ES", "IT", "BR", "NG", "RU", "CN", "TH"];

/// xoshiro256** seeded by splitmix64: small, fast, reproducible everywhere.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize
    }
    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(std::f64::consts::TAU * u2)
    }
    fn exponential(&mut self, mean: f64) -> f64 {
        -mean * libm::log(1.0 - self.uniform())
    }
    fn poisson(&mut self, mean: f64) -> usize {
        // Knuth's method; means here are small.
        let limit = libm::exp(-mean);
        let (mut k, mut p) = (0, self.uniform());
        while p > limit {
            k += 1;
            p *= self.uniform();
        }
        k
    }
    fn weighted<T: Copy>(&mut self, items: &[(T, f64)]) -> T {
        let mut u = self.uniform() * items.iter().map(|i| i.1).sum::<f64>();
        for &(item, weight) in items {
            if u < weight {
                return item;
            }
            u -= weight;
        }
        items[items.len() - 1].0
    }
}

struct Card {
    home: &'static str,
    /// Median spend, dollars.
    scale: f64,
    merchants: Vec<(usize, usize)>,
    devices: Vec<String>,
    per_day: f64,
    online_share: f64,
}

fn merchant_id(category: usize, n: usize) -> String {
    format!("m{category}{n:04}")
}

/// Seconds into a day, following a daytime rhythm (few purchases at night).
fn time_of_day(rng: &mut Rng) -> i64 {
    let hour = rng.weighted(&[
        (0, 0.5),
        (1, 0.3),
        (2, 0.2),
        (3, 0.2),
        (4, 0.2),
        (5, 0.4),
        (6, 1.0),
        (7, 2.5),
        (8, 4.0),
        (9, 5.0),
        (10, 5.5),
        (11, 6.5),
        (12, 7.5),
        (13, 6.5),
        (14, 5.5),
        (15, 5.5),
        (16, 6.0),
        (17, 7.0),
        (18, 7.5),
        (19, 7.0),
        (20, 5.5),
        (21, 4.0),
        (22, 2.5),
        (23, 1.2),
    ]);
    hour * 3600 + rng.below(3600) as i64
}

fn amount(rng: &mut Rng, median: f64) -> f64 {
    (libm::exp(libm::log(median) + 0.6 * rng.normal()) * 100.0)
        .round()
        .max(50.0)
        / 100.0
}

/// All transactions of the period, in time order.
pub fn generate(config: &Config) -> Vec<Transaction> {
    let mut rng = Rng::new(config.seed);
    let cards: Vec<Card> = (0..config.cards)
        .map(|c| {
            let merchants = (0..4 + rng.below(8))
                .map(|_| {
                    let category = rng.weighted(&[
                        (0, 5.0),
                        (1, 3.0),
                        (2, 4.0),
                        (3, 3.0),
                        (4, 0.5),
                        (5, 0.3),
                        (6, 0.3),
                        (7, 1.5),
                    ]);
                    (category, rng.below(400))
                })
                .collect();
            Card {
                home: rng.weighted(&HOME_COUNTRIES),
                scale: libm::exp(3.2 + 0.5 * rng.normal()),
                merchants,
                devices: (0..1 + rng.below(2))
                    .map(|d| format!("d{c:05}{d}"))
                    .collect(),
                per_day: 0.8 + rng.exponential(1.5),
                online_share: 0.1 + 0.5 * rng.uniform(),
            }
        })
        .collect();

    let mut out = Vec::new();
    for day in config.start_day..config.start_day + config.days {
        // Each day draws from its own stream: a later period (--start-day)
        // has the same cards and habits, and new days.
        let mut rng =
            Rng::new(config.seed ^ (u64::from(day) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let day_ms = EPOCH_2026_MS + i64::from(day) * DAY_MS;
        for (c, card) in cards.iter().enumerate() {
            // Travel: now and then a card spends a day abroad.
            let abroad = rng.chance(0.01).then(|| ABROAD[rng.below(ABROAD.len())]);
            for _ in 0..rng.poisson(card.per_day) {
                let online = rng.chance(card.online_share);
                let (category, merchant) = if rng.chance(0.85) {
                    card.merchants[rng.below(card.merchants.len())]
                } else {
                    (rng.below(6), rng.below(400))
                };
                let device = online.then(|| card.devices[rng.below(card.devices.len())].clone());
                out.push(Transaction {
                    timestamp_ms: day_ms + time_of_day(&mut rng) * 1000 + rng.below(1000) as i64,
                    card: c,
                    amount: amount(&mut rng, card.scale * CATEGORY_SCALE[category]),
                    merchant: merchant_id(category, merchant),
                    category: CATEGORIES[category],
                    channel: if online { "online" } else { "pos" },
                    country: match (online, abroad) {
                        (false, Some(country)) => country,
                        _ => card.home,
                    },
                    home_country: card.home,
                    device,
                    pattern: "",
                });
            }
            if rng.chance(config.fraud_rate) {
                fraud_episode(&mut rng, &mut out, c, card, day_ms);
            }
        }
    }
    out.sort_by_key(|t| t.timestamp_ms);
    for t in &mut out {
        // Exact for the default scale of 1: the file is unchanged.
        t.amount *= config.amount_scale;
    }
    out
}

fn fraud_episode(rng: &mut Rng, out: &mut Vec<Transaction>, c: usize, card: &Card, day_ms: i64) {
    let mut at = day_ms + time_of_day(rng) * 1000;
    let stolen_device = format!("x{:08}", rng.next_u64() % 100_000_000);
    let mut push = |rng: &mut Rng,
                    at: i64,
                    amount: f64,
                    category: usize,
                    channel,
                    country,
                    device: Option<String>,
                    pattern| {
        out.push(Transaction {
            timestamp_ms: at,
            card: c,
            amount,
            merchant: merchant_id(category, 400 + rng.below(200)),
            category: CATEGORIES[category],
            channel,
            country,
            home_country: card.home,
            device,
            pattern,
        });
    };
    match rng.weighted(&[(0, 0.3), (1, 0.3), (2, 0.2), (3, 0.2)]) {
        0 => {
            // Card testing: many tiny online charges within minutes, then a real one.
            let n = 4 + rng.below(10);
            for i in 0..n {
                at += 5_000 + rng.below(90_000) as i64;
                let amount = if i + 1 == n {
                    amount(rng, 150.0)
                } else {
                    (50.0 + rng.below(250) as f64) / 100.0
                };
                let category = if rng.chance(0.5) { 7 } else { 6 };
                push(
                    rng,
                    at,
                    amount,
                    category,
                    "online",
                    card.home,
                    Some(stolen_device.clone()),
                    "card_testing",
                );
            }
        }
        1 => {
            // Account takeover: a new device from abroad buys expensive goods.
            let country = ABROAD[rng.below(ABROAD.len())];
            for _ in 0..2 + rng.below(3) {
                at += 60_000 + rng.below(1_200_000) as i64;
                let amount = amount(rng, card.scale * 8.0);
                let category = if rng.chance(0.6) { 4 } else { 6 };
                push(
                    rng,
                    at,
                    amount,
                    category,
                    "online",
                    country,
                    Some(stolen_device.clone()),
                    "account_takeover",
                );
            }
        }
        2 => {
            // An unusual amount: one purchase many times the card's usual.
            let factor = 10.0 + 10.0 * rng.uniform();
            let amount = amount(rng, card.scale * factor);
            let category = if rng.chance(0.5) { 4 } else { 5 };
            let online = rng.chance(0.5);
            let device = online.then(|| {
                if rng.chance(0.5) {
                    stolen_device.clone()
                } else {
                    card.devices[0].clone()
                }
            });
            push(
                rng,
                at,
                amount,
                category,
                if online { "online" } else { "pos" },
                card.home,
                device,
                "unusual_amount",
            );
        }
        _ => {
            // A burst: a cloned card used at shop after shop abroad.
            let country = ABROAD[rng.below(ABROAD.len())];
            for _ in 0..5 + rng.below(8) {
                at += 60_000 + rng.below(400_000) as i64;
                let category = rng.below(4);
                let amount = amount(rng, card.scale * 2.5);
                push(rng, at, amount, category, "pos", country, None, "burst");
            }
        }
    }
}

impl Transaction {
    /// The transaction as a client sends it to `/v1/pipelines/<p>/score`:
    /// the transform's fields, the amount to the cent (as in the CSV).
    pub fn to_json(&self) -> serde_json::Value {
        let mut fields = serde_json::json!({
            "timestamp": edgescore_models::transform::format_rfc3339_ms(self.timestamp_ms),
            "card_id": format!("c{:05}", self.card),
            "amount": (self.amount * 100.0).round() / 100.0,
            "merchant_id": self.merchant,
            "merchant_category": self.category,
            "channel": self.channel,
            "country": self.country,
            "home_country": self.home_country,
        });
        if let Some(device) = &self.device {
            fields["device_id"] = device.as_str().into();
        }
        fields
    }
}

/// Writes `transactions` as JSON lines, one transaction per line with its
/// `transaction_id` (what a Kafka producer for `edgescore stream` sends).
pub fn write_json_lines(transactions: &[Transaction], out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    for (i, t) in transactions.iter().enumerate() {
        let mut fields = t.to_json();
        fields["transaction_id"] = format!("t{i:08}").into();
        writeln!(out, "{fields}")?;
    }
    out.flush()
}

/// Writes `transactions` as CSV (the columns in the module docs).
pub fn write_csv(transactions: &[Transaction], out: impl Write) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(out);
    writeln!(
        out,
        "transaction_id,timestamp,card_id,amount,merchant_id,merchant_category,channel,country,home_country,device_id,is_fraud,pattern"
    )?;
    for (i, t) in transactions.iter().enumerate() {
        writeln!(
            out,
            "t{i:08},{},c{:05},{:.2},{},{},{},{},{},{},{},{}",
            edgescore_models::transform::format_rfc3339_ms(t.timestamp_ms),
            t.card,
            t.amount,
            t.merchant,
            t.category,
            t.channel,
            t.country,
            t.home_country,
            t.device.as_deref().unwrap_or(""),
            u8::from(!t.pattern.is_empty()),
            t.pattern
        )?;
    }
    out.flush()
}

fn main() {
    let mut config = Config::default();
    let mut output = None;
    let mut json_lines = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("not a number: {v}")))
        };
        match flag.as_str() {
            "--seed" => config.seed = number(value()),
            "--cards" => config.cards = number(value()) as usize,
            "--days" => config.days = number(value()) as u32,
            "--start-day" => config.start_day = number(value()) as u32,
            "--fraud-rate" => {
                let v = value();
                config.fraud_rate = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("not a number: {v}")));
            }
            "--amount-scale" => {
                let v = value();
                config.amount_scale = v
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite() && *x > 0.0)
                    .unwrap_or_else(|| usage(&format!("not a positive number: {v}")));
            }
            "--output" => output = Some(value()),
            "--jsonl" => json_lines = true,
            "--help" | "-h" => usage(""),
            other => usage(&format!("unknown option {other}")),
        }
    }
    let transactions = generate(&config);
    let fraud = transactions
        .iter()
        .filter(|t| !t.pattern.is_empty())
        .count();
    let write = |out: &mut dyn Write| {
        if json_lines {
            write_json_lines(&transactions, out)
        } else {
            write_csv(&transactions, out)
        }
    };
    let result = match &output {
        Some(path) => std::fs::File::create(path).and_then(|mut f| write(&mut f)),
        None => write(&mut std::io::stdout().lock()),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    eprintln!(
        "{} transactions, {fraud} fraudulent ({:.2}%){}",
        transactions.len(),
        100.0 * fraud as f64 / transactions.len().max(1) as f64,
        output.map(|p| format!("; wrote {p}")).unwrap_or_default()
    );
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "usage: fraud_generate [--seed N] [--cards N] [--days N] [--start-day N] [--fraud-rate P] [--amount-scale X] [--jsonl] [--output FILE]"
    );
    std::process::exit(if problem.is_empty() { 0 } else { 2 });
}
