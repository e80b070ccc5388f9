// Hostile and careless JavaScript values into the `edgescore` package: each
// must be a JavaScript Error with a message that says what to fix, and must
// leave the pipeline as it was (the next valid transaction scores as on a
// fresh pipeline).
//
//   node hostile.mjs <PACKAGE_DIR> <TRANSFORM.toml> <MODEL> <OPTIONS.json> <MODEL_WITHOUT_COVERS>
//
// Prints one JSON object: { cases: [{ name, isError, message }], same: bool }.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, specPath, modelPath, optionsPath, coverlessPath] = process.argv.slice(2);
const { default: init, Model, Pipeline } = await import(pathToFileURL(join(pkg, "edgescore.js")).href);
await init({ module_or_path: readFileSync(join(pkg, "edgescore_bg.wasm")) });
const spec = readFileSync(specPath, "utf8");
const modelBytes = new Uint8Array(readFileSync(modelPath));
const options = JSON.parse(readFileSync(optionsPath, "utf8"));
const base = Date.now();
const tx = (extra = {}) => ({
  timestamp: new Date(base - 60_000).toISOString(), card_id: "h1", amount: 12.5, merchant_id: "m1",
  merchant_category: "grocery", channel: "pos", country: "US", home_country: "US", device_id: "d1", ...extra,
});
const pipeline = Pipeline.load(spec, modelBytes, options);
pipeline.score(tx());
const circular = tx();
circular.self = circular;
const cases = [
  ["spec not a string", () => Pipeline.load(5, modelBytes, options)],
  ["model as an ArrayBuffer", () => Model.load(modelBytes.buffer)],
  ["model without covers in a pipeline", () => Pipeline.load(spec, new Uint8Array(readFileSync(coverlessPath)), options)],
  ["options as an array", () => Pipeline.load(spec, modelBytes, [0.5, 0.9])],
  ["review NaN", () => Pipeline.load(spec, modelBytes, { ...options, review: NaN })],
  ["rows as a plain array", () => Model.load(modelBytes).rawScores([1, 2, 3])],
  ["amount NaN", () => pipeline.score(tx({ amount: NaN }))],
  ["category Infinity", () => pipeline.score(tx({ merchant_category: Infinity }))],
  ["invalid Date", () => pipeline.score(tx({ timestamp: new Date("garbage") }))],
  ["BigInt amount", () => pipeline.score(tx({ amount: 10n }))],
  ["circular", () => pipeline.score(circular)],
  ["a 64 MB field", () => pipeline.score(tx({ device_id: "x".repeat(64 << 20) }))],
  ["not an object", () => pipeline.score("card_id=h1")],
];
const out = [];
for (const [name, call] of cases) {
  try {
    call();
    out.push({ name, isError: false, message: "accepted" });
  } catch (e) {
    out.push({ name, isError: e instanceof Error, message: e.message });
  }
}
// The pipeline that saw every refusal answers as a fresh one that saw only
// the first transaction.
const fresh = Pipeline.load(spec, modelBytes, options);
fresh.score(tx());
const later = tx({ timestamp: new Date(base).toISOString(), amount: 40 });
const a = pipeline.score(later, { explain: true });
const b = fresh.score(later, { explain: true });
console.log(JSON.stringify({ cases: out, same: JSON.stringify(a) === JSON.stringify(b), a, b }));
