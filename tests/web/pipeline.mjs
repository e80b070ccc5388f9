// Scores transactions with the `edgescore` package's Pipeline in Node's V8,
// one at a time, in order, as a page does.
//
//   node pipeline.mjs <PACKAGE_DIR> <TRANSFORM.toml> <MODEL> <OPTIONS.json> <TRANSACTIONS.json>
//
// Prints one JSON line per transaction: the answer, or `{ error }` with the
// message of the JavaScript Error it raised.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [pkg, specPath, modelPath, optionsPath, transactionsPath] = process.argv.slice(2);
const { default: init, Pipeline } = await import(pathToFileURL(join(pkg, "edgescore.js")).href);
await init({ module_or_path: readFileSync(join(pkg, "edgescore_bg.wasm")) });
const pipeline = Pipeline.load(
  readFileSync(specPath, "utf8"),
  new Uint8Array(readFileSync(modelPath)),
  JSON.parse(readFileSync(optionsPath, "utf8")),
);
for (const transaction of JSON.parse(readFileSync(transactionsPath, "utf8"))) {
  try {
    console.log(JSON.stringify(pipeline.score(transaction, { explain: true })));
  } catch (e) {
    console.log(JSON.stringify({ error: e instanceof Error ? e.message : `not an Error: ${e}` }));
  }
}
