// Scores rows with an edgescore component in jco, a component runtime
// edgescore did not write: jco transpiles the component to JavaScript plus
// core modules, and Node's V8 runs them. Nothing of edgescore is involved.
//
// usage: node score.mjs <component.wasm> <rows.f64> <scores.f64>
//
// rows.f64: row-major little-endian float64 feature values.
// scores.f64: written as little-endian float64, one per row, so the caller
// compares bits, not decimal text.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import { transpile, writeFiles } from '@bytecodealliance/jco-transpile';

const [componentPath, rowsPath, scoresPath] = process.argv.slice(2);
if (!scoresPath) {
  console.error('usage: node score.mjs <component.wasm> <rows.f64> <scores.f64>');
  process.exit(2);
}

const outDir = await mkdtemp(join(tmpdir(), 'edgescore-jco-'));
try {
  const { files } = await transpile(componentPath, { name: 'component', outDir });
  await writeFiles(files);
  await writeFile(join(outDir, 'package.json'), '{"type":"module"}');
  const component = await import(pathToFileURL(join(outDir, 'component.js')).href);
  const model = component.model;
  const info = model.info();
  const bytes = await readFile(rowsPath);
  const rows = new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  // jco throws a ComponentError carrying the WIT error variant.
  let scores;
  try {
    scores = model.scoreBatch(rows, { contributions: false });
  } catch (e) {
    console.error(`score-batch failed: ${JSON.stringify(e.payload ?? String(e))}`);
    process.exit(1);
  }
  const out = new Float64Array(scores.map((s) => s.value));
  await writeFile(scoresPath, Buffer.from(out.buffer));
  console.log(`${info.name} ${info.version}: ${scores.length} rows scored in jco`);
} finally {
  await rm(outDir, { recursive: true, force: true });
}
