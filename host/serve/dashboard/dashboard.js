// The edgescore dashboard: what `edgescore serve` (or `edgescore stream
// --metrics-listen`) is doing now. The page polls GET v1/dashboard every
// second (decisions, latency, the drift report of each pipeline, models,
// swaps, the stream's lag) and listens to GET v1/events (server-sent
// events) for the live alert feed. Charts are drawn by uPlot, served
// with the page; nothing comes from another origin.
//
// `window.edgescoreDashboard` holds what the page last received, for
// people poking at it and for the browser test: `summary` (the last
// v1/dashboard), `alerts` (every feed event, oldest first), `feed`
// ("connecting" | "live" | "reconnecting") and `errors`.
"use strict";

(() => {
  const POLL_MS = 1000;
  const FEED_MAX = 200;
  const LATENCY_POINTS = 300;
  const DECISIONS = ["allow", "review", "block"];
  const STATES = { act: 3, moderate: 2, stable: 1, collecting: 0 };

  const dashboard = { summary: null, alerts: [], feed: "connecting", errors: [] };
  window.edgescoreDashboard = dashboard;

  const $ = (selector) => document.querySelector(selector);
  let chosen = null;
  let scoreChart = null;
  let scoreChartKey = "";
  let latencyChart = null;
  const latencyHistory = new Map();

  /** An element with a class and children (text or elements). */
  function el(tag, className, ...children) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      if (c instanceof Node) td.append(c);
      else td.textContent = c ?? "";
      tr.append(td);
    }
    return tr;
  }

  const badge = (text) => el("span", `badge ${text}`, text);
  const clock = (date) => date.toLocaleTimeString([], { hour12: false });
  const fixed = (x, digits) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "–");
  const ms = (x) => (typeof x === "number" ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms` : "–");
  const percent = (part, total) => (total > 0 ? part / total : null);
  const shown = (share) => (share === null ? "–" : `${(share * 100).toFixed(1)}%`);
  /** A number in a few characters: 0.43, 12, 3e-5. */
  const compact = (x) => (x === 0 ? "0" : Math.abs(x) >= 0.01 ? String(Number(x.toPrecision(2))) : x.toExponential(0));
  /** A bin's label for an axis: "[0.0012345, 0.5)" -> "0.001–0.5", "< 1.2e-6" -> "< 1e-6". */
  function axisLabel(label) {
    const numbers = (label.match(/-?\d+(\.\d+)?(e-?\d+)?/g) ?? []).map((m) => compact(Number(m)));
    if (label.startsWith("[") && numbers.length === 2) return `${numbers[0]}–${numbers[1]}`;
    if ((label.startsWith("<") || label.startsWith(">") || label.startsWith("=")) && numbers.length === 1) return `${label[0]} ${numbers[0]}`;
    return label;
  }

  // ---------------------------------------------------------------- feed

  function connectFeed() {
    const source = new EventSource("v1/events");
    const live = (state) => {
      dashboard.feed = state;
      $("#feed-state").className = state === "live" ? "dot live" : "dot";
      $("#feed-state").title = `the live feed (/v1/events): ${state}`;
    };
    source.addEventListener("hello", () => live("live"));
    source.addEventListener("alert", (e) => addAlert(JSON.parse(e.data)));
    source.addEventListener("drift", (e) => {
      addDrift(JSON.parse(e.data));
      refresh();
    });
    source.addEventListener("lagged", (e) => {
      addToFeed(el("li", "lagged", `${e.data} alerts not shown: this page fell behind the feed`));
    });
    // The browser reconnects by itself.
    source.onerror = () => live("reconnecting");
  }

  function addToFeed(item) {
    $("#feed-empty").hidden = true;
    const feed = $("#feed");
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastChild.remove();
  }

  /** A review or block decision: decision, score, card, transaction, reasons. */
  function addAlert(alert) {
    dashboard.alerts.push(alert);
    const t = alert.transaction ?? {};
    const decision = String(alert.decision);
    const item = el("li", `alert ${decision}`);
    item.dataset.kind = "alert";
    item.dataset.decision = decision;
    item.dataset.card = t.card_id ?? "";
    item.dataset.transaction = alert.transaction_id ?? t.transaction_id ?? "";
    const score = el("span", "score", fixed(alert.score, 3));
    score.title = String(alert.score);
    const when = t.timestamp ? new Date(t.timestamp) : new Date();
    item.append(el("div", "head",
      badge(decision), score,
      el("span", "card", t.card_id ? `card ${t.card_id}` : ""),
      typeof t.amount === "number" ? el("span", "amount", t.amount.toFixed(2)) : null,
      el("time", null, clock(new Date()))));
    const where = [t.merchant_category, t.channel, t.country && t.home_country && t.country !== t.home_country
      ? `${t.country} (home ${t.home_country})` : t.country, t.merchant_id].filter(Boolean).join(" · ");
    const source = [`${alert.pipeline} v${alert.version}`, item.dataset.transaction,
      alert.partition !== undefined ? `partition ${alert.partition} offset ${alert.offset}` : null,
      Number.isNaN(when.getTime()) ? null : `at ${when.toISOString().replace("T", " ").slice(0, 19)}`]
      .filter(Boolean).join(" · ");
    item.append(el("div", "detail", where), el("div", "detail", source));
    const reasons = el("div", "reasons");
    for (const r of alert.reasons ?? []) {
      const value = r.value === null ? "missing" : Number(Number(r.value).toPrecision(4));
      const push = r.contribution >= 0 ? `+${r.contribution.toFixed(2)}` : r.contribution.toFixed(2);
      reasons.append(el("span", null, `${r.feature} = ${value} (${push})`));
    }
    item.append(reasons);
    addToFeed(item);
  }

  /** A drift alert: a distribution crossed into moderate or act. */
  function addDrift(alert) {
    dashboard.alerts.push(alert);
    const item = el("li", `drift ${alert.state}`);
    item.dataset.kind = "drift";
    item.dataset.feature = alert.feature;
    item.dataset.state = alert.state;
    item.append(el("div", "head", badge(alert.state),
      el("span", null, `drift: ${alert.feature}`),
      el("time", null, clock(new Date()))));
    item.append(el("div", "detail",
      `PSI ${fixed(alert.value, 3)} over ${alert.window_events} events (was ${alert.previous}) · ${alert.pipeline} v${alert.version}`));
    addToFeed(item);
  }

  // ------------------------------------------------------------- summary

  async function refresh() {
    try {
      const response = await fetch("v1/dashboard", { cache: "no-store" });
      if (!response.ok) throw new Error(`v1/dashboard: HTTP ${response.status}`);
      const summary = await response.json();
      dashboard.summary = summary;
      render(summary);
      const status = $("#status");
      status.className = "";
      status.textContent = `Updated ${clock(new Date())} · up ${uptime(summary.uptime_seconds)}` +
        (summary.feed ? ` · ${summary.feed.subscribers} page(s) on the feed, ${summary.feed.dropped} alerts missed` : "");
    } catch (e) {
      dashboard.errors.push(String(e));
      const status = $("#status");
      status.className = "error";
      status.textContent = `Cannot reach the ${dashboard.summary?.source ?? "server"}: ${e.message}. Retrying every second.`;
    }
  }

  function uptime(seconds) {
    const s = Math.floor(seconds);
    if (s < 120) return `${s} s`;
    if (s < 7200) return `${Math.floor(s / 60)} min`;
    return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  }

  function render(summary) {
    $("#source").textContent = summary.source === "stream" ? "stream dashboard" : "serve dashboard";
    const pipelines = summary.pipelines;
    const names = pipelines.map((p) => p.name);
    if (!names.includes(chosen)) chosen = (pipelines.find((p) => p.drift) ?? pipelines[0])?.name ?? null;
    const select = $("#pipeline");
    if (select.dataset.names !== names.join("\n")) {
      select.replaceChildren(...names.map((n) => el("option", null, n)));
      select.dataset.names = names.join("\n");
    }
    select.value = chosen ?? "";
    $("#pick").hidden = names.length < 2;
    const pipeline = pipelines.find((p) => p.name === chosen) ?? null;

    recordLatency(summary);
    renderDecisions(pipeline);
    renderLatency(summary, pipeline);
    renderScores(pipeline);
    renderDrift(pipeline);
    renderModels(summary);
    renderStream(summary.stream);
  }

  function shareCell(share, reference) {
    const cell = el("span", null);
    const bar = el("span", reference ? "bar reference" : "bar");
    bar.style.width = `${Math.round((share ?? 0) * 36)}px`;
    cell.append(bar, el("span", "share", shown(share)));
    return cell;
  }

  function renderDecisions(pipeline) {
    const body = $("#decisions tbody");
    if (!pipeline) {
      $("#decisions-of").textContent = "no pipeline serving";
      body.replaceChildren();
      return;
    }
    $("#decisions-of").textContent = `${pipeline.name} v${pipeline.version}`;
    const since = pipeline.decisions;
    const sinceTotal = DECISIONS.reduce((n, d) => n + (since[d] ?? 0), 0);
    const drift = pipeline.drift?.decisions;
    const total = (counts) => (counts ? DECISIONS.reduce((n, d) => n + counts[d], 0) : 0);
    const [windowTotal, referenceTotal] = [total(drift?.current), total(drift?.reference)];
    body.replaceChildren(...DECISIONS.map((d) => {
      const tr = row([
        badge(d),
        `${since[d] ?? 0} · ${shown(percent(since[d] ?? 0, sinceTotal))}`,
        drift ? shareCell(percent(drift.current[d], windowTotal), false) : "no profile",
        drift ? shareCell(percent(drift.reference[d], referenceTotal), true) : "",
      ]);
      tr.dataset.decision = d;
      return tr;
    }));
  }

  function recordLatency(summary) {
    const now = Date.now() / 1000;
    for (const p of summary.pipelines) {
      if (!p.latency) continue;
      const points = latencyHistory.get(p.name) ?? [];
      points.push([now, p.latency.p50_ms, p.latency.p99_ms]);
      if (points.length > LATENCY_POINTS) points.shift();
      latencyHistory.set(p.name, points);
    }
  }

  function renderLatency(summary, pipeline) {
    const of = pipeline?.latency_of === "broker to commit" ? "from the broker to the commit, per message" : "per request, the last 1024";
    $("#latency-of").textContent = of;
    const entries = summary.source === "stream"
      ? summary.pipelines.map((p) => ({ name: p.name, latency: p.latency }))
      : summary.models.map((m) => ({ name: m.name, latency: m.latency }));
    $("#latency tbody").replaceChildren(...entries.map((e) => {
      const tr = row([e.name, ms(e.latency?.p50_ms), ms(e.latency?.p99_ms), e.latency ? `${e.latency.requests}` : "no request yet"]);
      tr.dataset.name = e.name;
      return tr;
    }));
    const points = (pipeline && latencyHistory.get(pipeline.name)) ?? [];
    const data = [points.map((p) => p[0]), points.map((p) => p[1]), points.map((p) => p[2])];
    const target = $("#latency-chart");
    if (!latencyChart) {
      latencyChart = new uPlot({
        width: target.clientWidth || 300,
        height: 150,
        legend: { show: true },
        scales: { y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{}, { values: (u, splits) => splits.map((v) => `${v} ms`), size: 60 }],
        series: [
          {},
          { label: "p50", stroke: "#2458e6", width: 1.5, value: (u, v) => ms(v) },
          { label: "p99", stroke: "#c62828", width: 1.5, value: (u, v) => ms(v) },
        ],
      }, data, target);
    } else {
      latencyChart.setData(data);
    }
  }

  function renderScores(pipeline) {
    const score = pipeline?.drift?.score;
    const note = $("#score-note");
    const target = $("#score-chart");
    if (!score) {
      note.textContent = pipeline
        ? `${pipeline.name} v${pipeline.version} has no reference profile (profile.json beside its pipeline.toml, made by edgescore profile): no score distribution to compare.`
        : "No pipeline serving.";
      if (scoreChart) {
        scoreChart.destroy();
        scoreChart = null;
        scoreChartKey = "";
      }
      return;
    }
    const labels = score.bins.map(axisLabel);
    const referenceTotal = score.reference.reduce((a, b) => a + b, 0);
    const windowTotal = score.current.reduce((a, b) => a + b, 0);
    const data = [
      labels.map((_, i) => i),
      score.reference.map((c) => percent(c, referenceTotal)),
      score.current.map((c) => percent(c, windowTotal)),
    ];
    note.textContent = `${pipeline.name} v${pipeline.version}: ${windowTotal} scores in the window, ${referenceTotal} in the reference; ` +
      `PSI ${fixed(score.psi, 3)} (${score.state}).`;
    const key = `${pipeline.name}\n${pipeline.version}\n${labels.join("\n")}`;
    if (scoreChart && key === scoreChartKey) {
      scoreChart.setData(data);
      return;
    }
    if (scoreChart) scoreChart.destroy();
    scoreChartKey = key;
    const bars = (align) => uPlot.paths.bars({ size: [0.4, 60], align });
    scoreChart = new uPlot({
      width: target.clientWidth || 600,
      height: 220,
      legend: { show: true },
      cursor: { points: { show: false } },
      scales: { x: { time: false, range: () => [-0.6, labels.length - 0.4] }, y: { range: (u, min, max) => [0, Math.max(0.05, max * 1.1)] } },
      axes: [
        { splits: () => labels.map((_, i) => i), values: (u, splits) => splits.map((i) => labels[i] ?? ""), rotate: -30, size: 70, gap: 2 },
        { values: (u, splits) => splits.map((v) => `${Math.round(v * 100)}%`), size: 46 },
      ],
      series: [
        { label: "bin", value: (u, i) => (i === null ? "" : score.bins[i] ?? "") },
        { label: "reference", fill: "rgba(152,162,179,0.7)", stroke: "#98a2b3", paths: bars(-1), points: { show: false }, value: (u, v) => shown(v) },
        { label: "window", fill: "rgba(36,88,230,0.75)", stroke: "#2458e6", paths: bars(1), points: { show: false }, value: (u, v) => shown(v) },
      ],
    }, data, target);
  }

  function renderDrift(pipeline) {
    const body = $("#drift tbody");
    const drift = pipeline?.drift;
    if (!drift) {
      $("#drift-note").textContent = pipeline ? "No reference profile: drift is not watched for this version." : "";
      body.replaceChildren();
      return;
    }
    const c = drift.config;
    $("#drift-note").textContent = `${drift.window_events} events in the window (last ${c.window_events}, at most ${c.window_seconds} s old; ` +
      `judged from ${c.min_events}). PSI: moderate from ${c.moderate}, act from ${c.act}.`;
    const features = [...drift.features].sort((a, b) =>
      (STATES[b.state] - STATES[a.state]) || ((b.psi ?? -1) - (a.psi ?? -1)) || a.name.localeCompare(b.name));
    body.replaceChildren(...features.map((f) => {
      const tr = row([f.name, fixed(f.psi, 3), f.kind === "categorical" ? fixed(f.jensen_shannon, 3) : "", badge(f.state)]);
      tr.dataset.feature = f.name;
      tr.dataset.state = f.state;
      tr.children[1].className = "num";
      tr.children[2].className = "num";
      return tr;
    }));
  }

  function renderModels(summary) {
    $("#models tbody").replaceChildren(...summary.models.map((m) => {
      const tr = row([
        m.name, m.kind ?? "–", m.serving ?? "nothing",
        m.canary ? `${m.canary.version} at ${m.canary.percent}%` : "–",
        m.shadow ?? "–",
      ]);
      tr.dataset.model = m.name;
      return tr;
    }));
    $("#swaps-empty").hidden = summary.swaps.length > 0;
    $("#swaps").replaceChildren(...summary.swaps.map((s) => {
      const at = new Date(s.at);
      return el("li", null, el("time", null, clock(at)),
        `${s.model}: ${s.from ?? "nothing"} → ${s.to ?? "nothing"} `, el("small", null, `(${s.route})`));
    }));
  }

  function renderStream(stream) {
    const panel = $("#stream-panel");
    panel.hidden = !stream;
    if (!stream) return;
    $("#stream-of").textContent = `topic ${stream.topic}, group ${stream.group}`;
    const last = stream.last_batch ? `last batch committed ${clock(new Date(stream.last_batch))}` : "no batch committed yet";
    $("#stream-note").textContent = `${last} · ${stream.batches} batches · ${stream.dead_letters} dead letters`;
    const most = Math.max(1, ...stream.partitions.map((p) => p.lag ?? 0));
    $("#lag tbody").replaceChildren(...stream.partitions.map((p) => {
      const bar = el("span", "bar");
      bar.style.width = `${Math.round(((p.lag ?? 0) / most) * 120)}px`;
      const tr = row([String(p.partition), p.lag === null ? "not reported yet" : String(p.lag), bar]);
      tr.dataset.partition = p.partition;
      tr.dataset.lag = p.lag ?? "";
      return tr;
    }));
  }

  $("#pipeline").addEventListener("change", (e) => {
    chosen = e.target.value;
    if (dashboard.summary) render(dashboard.summary);
  });
  window.addEventListener("resize", () => {
    for (const [chart, target] of [[scoreChart, "#score-chart"], [latencyChart, "#latency-chart"]]) {
      if (chart) chart.setSize({ width: $(target).clientWidth, height: chart.height });
    }
  });

  // After the load event, so the open feed never holds the page "loading".
  if (document.readyState === "complete") connectFeed();
  else window.addEventListener("load", connectFeed, { once: true });
  refresh();
  setInterval(refresh, POLL_MS);
})();
