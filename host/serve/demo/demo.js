// The edgescore demo page: each transaction is scored here, by the
// `edgescore` package (WebAssembly), and, when the page is served by
// `edgescore serve`, by the server's /v1/pipelines/fraud/score; both answers
// are shown side by side and compared to the last bit.
//
// `window.edgescoreDemo` exposes what the page did (for the browser test):
// `ready` (a promise), `results` (one entry per transaction: the
// transaction, the page's answer, the server's), `errors`, `scoreNext()`
// (scores the next sample transaction) and `playSamples()`. Each reasons
// chart carries what it shows, exactly, in `data-reasons` (JSON).
import init, { Pipeline } from "./pkg/edgescore.js";

/** The features a card's recent activity moves, shown as they change. */
const VELOCITY = [
  "card_txn_10m", "card_txn_1h", "card_txn_24h", "card_amount_1h", "card_merchants_1h",
  "seconds_since_last", "amount_vs_usual", "card_country_txn_7d", "card_device_txn_7d",
];

const demo = { results: [], errors: [], ready: null, scoreNext, playSamples };
window.edgescoreDemo = demo;
const $ = (selector) => document.querySelector(selector);

let pipeline;
/** The server's base URL ("" for this origin), or null for page-only scoring. */
let server = null;
/** Cards of this page load only, so the server's windows start as the page's do. */
const session = Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, "0")).join("");

demo.ready = load().catch((e) => {
  demo.errors.push(e.message);
  $("#status").textContent = `Could not load: ${e.message}`;
  $("#status").className = "error";
  throw e;
});

async function load() {
  const started = performance.now();
  const get = async (path) => {
    const response = await fetch(path);
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
    return response;
  };
  const [site, spec, model, options] = await Promise.all([
    get("site.json").then((r) => r.json()),
    get("pipeline/transform.toml").then((r) => r.text()),
    get("pipeline/model.json").then((r) => r.arrayBuffer()),
    get("pipeline/options.json").then((r) => r.json()),
  ]);
  server = site.server;
  await init();
  pipeline = Pipeline.load(spec, new Uint8Array(model), options);
  const ms = (performance.now() - started).toFixed(0);
  $("#status").textContent = `Ready in ${ms} ms: ${pipeline.featureNames.length} features, thresholds review ${options.review} and block ${options.block}. ` +
    (server === null ? "Scoring in this page only (no server configured)." : "Each transaction also goes to the server.");
  $("form [name=card_id]").value = `demo-${session}-x`;
  $("#score").disabled = false;
  $("#play").disabled = false;
}

/** Scores `transaction` in the page and on the server; shows and records both. */
async function scoreBoth(transaction) {
  const entry = { transaction, page: null, pageError: null, server: null, serverError: null, same: null };
  try {
    entry.page = pipeline.score(transaction, { explain: true });
  } catch (e) {
    entry.pageError = e.message;
  }
  if (server !== null) {
    const response = await fetch(`${server}/v1/pipelines/fraud/score`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ transactions: [transaction], features: true, explain: true }),
    });
    const body = await response.json();
    if (response.ok) entry.server = body.results[0];
    else entry.serverError = body.error ?? JSON.stringify(body);
  }
  entry.same = server === null ? null : sameAnswer(entry);
  demo.results.push(entry);
  show(entry);
  return entry;
}

/** Whether the page and the server gave the same answer, to the bit. */
function sameAnswer({ page, server: remote, pageError, serverError }) {
  if (pageError !== null || serverError !== null) return pageError !== null && serverError !== null;
  return page.score === remote.score && page.decision === remote.decision &&
    JSON.stringify(page.reasons) === JSON.stringify(remote.reasons) &&
    JSON.stringify(page.features) === JSON.stringify(remote.features);
}

function show(entry) {
  $("#latest").hidden = false;
  side($("#side-page"), entry.page, entry.pageError);
  side($("#side-server"), entry.server, server === null ? "no server: the page was opened as a static site" : entry.serverError);
  const agreement = $("#agreement");
  agreement.textContent = entry.same === null ? "" : entry.same ? "— the same, to the last bit" : "— they differ";
  agreement.className = entry.same === null ? "" : entry.same ? "same" : "differs";

  const velocity = $("#velocity tbody");
  velocity.replaceChildren(...VELOCITY.map((name) => row([
    name, value(entry.page?.features?.[name]), value(entry.server?.features?.[name]),
  ])));

  const t = entry.transaction;
  const cells = [
    demo.results.length, t.card_id, t.amount.toFixed(2), `${t.merchant_category}, ${t.channel}, ${t.country}`,
    entry.page ? String(entry.page.score) : entry.pageError, entry.page?.decision ?? "",
    entry.server ? String(entry.server.score) : entry.serverError ?? "", entry.server?.decision ?? "",
    entry.same === null ? "" : entry.same ? "yes" : "no",
  ];
  const tr = row(cells);
  tr.dataset.index = demo.results.length - 1;
  tr.lastChild.className = entry.same === null ? "" : entry.same ? "same" : "differs";
  for (const i of [5, 7]) if (tr.children[i].textContent) tr.children[i].replaceChildren(badge(tr.children[i].textContent));
  $("#results tbody").prepend(tr);
}

function side(element, answer, error) {
  const verdict = element.querySelector(".verdict");
  const chart = element.querySelector(".reasons");
  if (!answer) {
    verdict.textContent = error ?? "";
    chart.replaceChildren();
    delete chart.dataset.reasons;
    return;
  }
  verdict.replaceChildren(badge(answer.decision), ` score ${answer.score}`);
  bars(chart, answer.reasons);
  chart.dataset.reasons = JSON.stringify(answer.reasons);
}

/** The top reasons as a bar chart of their contributions to the margin. */
function bars(svg, reasons) {
  const ns = "http://www.w3.org/2000/svg";
  const largest = Math.max(...reasons.map((r) => r.contribution), 1e-9);
  const width = svg.clientWidth || 480;
  const label = 210;
  svg.replaceChildren(...reasons.flatMap((r, i) => {
    const y = 4 + i * 26;
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", 0);
    text.setAttribute("y", y + 14);
    text.textContent = `${r.feature} = ${value(r.value)}`;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("x", label);
    rect.setAttribute("y", y);
    rect.setAttribute("height", 18);
    rect.setAttribute("width", Math.max(1, (width - label - 70) * r.contribution / largest));
    const amount = document.createElementNS(ns, "text");
    amount.setAttribute("x", label + Math.max(1, (width - label - 70) * r.contribution / largest) + 6);
    amount.setAttribute("y", y + 14);
    amount.textContent = `+${r.contribution.toFixed(3)}`;
    return [text, rect, amount];
  }));
  if (reasons.length === 0) {
    const none = document.createElementNS(ns, "text");
    none.setAttribute("y", 16);
    none.textContent = "no feature pushed the score up";
    svg.replaceChildren(none);
  }
}

function row(cells) {
  const tr = document.createElement("tr");
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell;
    tr.append(td);
  }
  return tr;
}

function badge(decision) {
  const span = document.createElement("span");
  span.className = `badge ${decision}`;
  span.textContent = decision;
  return span;
}

function value(v) {
  return v === undefined ? "" : v === null ? "missing" : String(Number(v.toPrecision(6)));
}

$("#transaction").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const transaction = Object.fromEntries(form.entries());
  transaction.amount = Number(transaction.amount);
  transaction.timestamp = new Date().toISOString();
  if (!transaction.device_id) delete transaction.device_id;
  await scoreBoth(transaction);
});

$("#play").addEventListener("click", () => playSamples());

/**
 * Twenty transactions of two cards over the last five hours: one card's
 * everyday purchases at home, and one card tested with small online
 * payments abroad on a new device, then cashed out.
 */
function samples() {
  const now = Date.now();
  const at = (minutesAgo) => new Date(now - minutesAgo * 60_000).toISOString();
  const home = { card_id: `demo-${session}-a`, country: "US", home_country: "US", channel: "pos", device_id: "a-phone" };
  const stolen = { card_id: `demo-${session}-b`, home_country: "US" };
  const tx = (minutesAgo, card, amount, merchant, category, extra = {}) =>
    ({ timestamp: at(minutesAgo), ...card, amount, merchant_id: merchant, merchant_category: category, ...extra });
  return [
    tx(300, home, 23.4, "m-grocer-1", "grocery"),
    tx(290, stolen, 61.0, "m-fuel-7", "fuel", { country: "US", channel: "pos", device_id: "b-phone" }),
    tx(240, home, 48.1, "m-fuel-2", "fuel"),
    tx(200, home, 17.9, "m-cafe-3", "restaurant"),
    tx(180, stolen, 35.5, "m-grocer-9", "grocery", { country: "US", channel: "pos", device_id: "b-phone" }),
    tx(150, home, 84.0, "m-shop-4", "retail"),
    tx(120, home, 12.5, "m-cafe-3", "restaurant"),
    tx(58, stolen, 1.0, "m-dg-101", "digital_goods", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(57, stolen, 1.5, "m-dg-102", "digital_goods", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(56, stolen, 2.0, "m-gc-103", "gift_cards", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(55, home, 31.2, "m-grocer-1", "grocery"),
    tx(54, stolen, 1.0, "m-dg-104", "digital_goods", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(53, stolen, 3.0, "m-gc-105", "gift_cards", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(50, stolen, 250.0, "m-gc-106", "gift_cards", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(45, stolen, 480.0, "m-el-107", "electronics", { country: "RO", channel: "online", device_id: "x-unknown" }),
    tx(40, home, 56.7, "m-shop-8", "retail"),
    tx(30, stolen, 1250.0, "m-el-108", "electronics", { country: "NG", channel: "online", device_id: "x-other" }),
    tx(20, home, 9.99, "m-cafe-3", "restaurant"),
    tx(10, stolen, 899.0, "m-tr-109", "travel", { country: "NG", channel: "online", device_id: "x-other" }),
    tx(5, home, 64.3, "m-fuel-2", "fuel"),
  ];
}

let sampleQueue = null;

/** Scores the next sample transaction (a new set of twenty after the last). */
async function scoreNext() {
  await demo.ready;
  if (!sampleQueue || sampleQueue.length === 0) sampleQueue = samples();
  return scoreBoth(sampleQueue.shift());
}

async function playSamples() {
  await demo.ready;
  $("#play").disabled = true;
  try {
    for (let i = 0; i < 20; i++) {
      await scoreNext();
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  } finally {
    $("#play").disabled = false;
  }
  return demo.results;
}
