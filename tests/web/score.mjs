// Scores row files with the `edgescore` npm package, as a page would (the
// ES module, `init` with the wasm's bytes), in Node's V8.
//
//   node score.mjs <PACKAGE_DIR> <MODEL> <ROWS.f64> <SCORES.f64> [<ROWS.f64> <SCORES.f64> ...]
//   node score.mjs <PACKAGE_DIR> <MODEL> --load-error
//
// Rows and scores are little-endian float64, row-major. With --load-error
// it prints the error a bad model file gets, as JSON.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, modelPath, ...rest] = process.argv.slice(2);
const { default: init, Model } = await import(pathToFileURL(join(pkg, "edgescore.js")).href);
await init({ module_or_path: readFileSync(join(pkg, "edgescore_bg.wasm")) });
const bytes = new Uint8Array(readFileSync(modelPath));

if (rest[0] === "--load-error") {
  try {
    Model.load(bytes);
    console.log(JSON.stringify({ loaded: true }));
  } catch (e) {
    console.log(JSON.stringify({ isError: e instanceof Error, message: e.message }));
  }
  process.exit(0);
}

const model = Model.load(bytes);
for (let i = 0; i < rest.length; i += 2) {
  const raw = readFileSync(rest[i]);
  const rows = new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
  const scores = model.score(rows);
  writeFileSync(rest[i + 1], Buffer.from(scores.buffer, scores.byteOffset, scores.byteLength));
}
