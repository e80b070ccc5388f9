// Scores row files with the `edgescore` npm package, as a page would (the
// ES module, `init` with the wasm's bytes), in Node's V8.
//
//   node score.mjs <MODULE.js> <MODEL> [--f32] <ROWS.f64> <SCORES.f64> [<ROWS.f64> <SCORES.f64> ...]
//   node score.mjs <MODULE.js> <MODEL> --load-error
//
// MODULE is one of the package's builds (edgescore.js, edgescore_models.js);
// its wasm is <MODULE>_bg.wasm beside it. Rows and scores are little-endian
// float64, row-major; with --f32 the rows are handed over as a Float32Array.
// With --load-error it prints the error a bad model file gets, as JSON.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [modulePath, modelPath, ...rest] = process.argv.slice(2);
const { default: init, Model } = await import(pathToFileURL(modulePath).href);
await init({ module_or_path: readFileSync(modulePath.replace(/\.js$/, "_bg.wasm")) });
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

const f32 = rest[0] === "--f32";
const files = f32 ? rest.slice(1) : rest;
const model = Model.load(bytes);
for (let i = 0; i < files.length; i += 2) {
  const raw = readFileSync(files[i]);
  const wide = new Float64Array(raw.buffer, raw.byteOffset, raw.byteLength / 8);
  const scores = model.score(f32 ? Float32Array.from(wide) : wide);
  writeFileSync(files[i + 1], Buffer.from(scores.buffer, scores.byteOffset, scores.byteLength));
}
