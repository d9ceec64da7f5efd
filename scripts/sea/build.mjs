#!/usr/bin/env node
// Builds sluice as one executable file: Node's single executable application (SEA) feature,
// with a Node 22 binary from the npm registry (scripts/node-versions.sh) carrying sluice bundled
// into one CommonJS script by esbuild, plus the files an install reads from disk (package.json,
// the status page, the ingest workers' scripts) as SEA assets (src/core/embedded.ts reads them).
//
//   node scripts/sea/build.mjs [OUTPUT]     default build/sluice; needs `npm ci` and `npm run build`
//
// What the single executable leaves out: node-unix-socket (unixgram:// listeners; a native
// addon, optional everywhere) and @node-rs/crc32 (the Kafka client falls back to its WASM CRC).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));
const output = path.resolve(process.argv[2] ?? path.join(root, 'build', 'sluice'));
const work = path.join(root, 'build', 'sea');
const NODE_MAJOR = '22';

const dist = (p) => path.join(root, 'dist', p);
statSync(dist('cli/main.js')); // run `npm run build` first
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// import.meta.url has no meaning in a CommonJS bundle: it becomes the executable's own URL.
// Nothing reads a file relative to it there (src/core/embedded.ts reads assets instead); it is
// only the base of require()s made by createRequire, which then look beside the executable.
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${NODE_MAJOR}`,
  define: { 'import.meta.url': '__sluice_executable_url' },
  banner: { js: 'var __sluice_executable_url = require("node:url").pathToFileURL(process.execPath).href;' },
  // The bundled variant has its WASM inline instead of reading native.wasm beside itself.
  alias: { '@platformatic/wasm-utils': '@platformatic/wasm-utils/bundled' },
  external: ['node-unix-socket', '@node-rs/crc32'],
  legalComments: 'eof',
  logLevel: 'warning',
};

await build({
  ...common,
  stdin: {
    contents: `import { main } from ${JSON.stringify(dist('cli/main.js'))};\nmain(process.argv.slice(2));\n`,
    resolveDir: root,
    sourcefile: 'sea-main.js',
  },
  outfile: path.join(work, 'sluice.cjs'),
});

const assets = { 'package.json': path.join(root, 'package.json') };
for (const source of ['statsd', 'json_udp']) {
  const out = path.join(work, 'workers', `${source}.cjs`);
  await build({ ...common, entryPoints: [dist(`sources/${source}/worker.js`)], outfile: out });
  assets[`workers/${source}.cjs`] = out;
}
for (const name of readdirSync(dist('admin/page'))) assets[`admin/page/${name}`] = dist(`admin/page/${name}`);

const node = execFileSync(path.join(root, 'scripts', 'node-versions.sh'), ['path', NODE_MAJOR], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();
const blob = path.join(work, 'sluice.blob');
const seaConfig = path.join(work, 'sea-config.json');
writeFileSync(
  seaConfig,
  JSON.stringify(
    {
      main: path.join(work, 'sluice.cjs'),
      output: blob,
      disableExperimentalSEAWarning: true,
      // Compiled code in the blob: the binary starts without parsing the bundle again.
      useCodeCache: true,
      assets,
    },
    null,
    2,
  ),
);
execFileSync(node, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });

mkdirSync(path.dirname(output), { recursive: true });
rmSync(output, { force: true });
copyFileSync(node, output);
chmodSync(output, 0o755);
// Node's symbol tables are 18 MB of the 125; Debian strips its own binaries the same way.
let stripped = 'not stripped: no strip on PATH';
try {
  execFileSync('strip', [output], { stdio: 'inherit' });
  stripped = 'stripped';
} catch (error) {
  if (error.code !== 'ENOENT') throw error;
}
execFileSync(
  process.execPath,
  [
    path.join(root, 'node_modules', 'postject', 'dist', 'cli.js'),
    output,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const version = execFileSync(output, ['--version'], { encoding: 'utf8' }).trim();
const mb = (statSync(output).size / 1e6).toFixed(1);
console.log(
  `${output}: ${version}, ${mb} MB (Node ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()}, ${stripped})`,
);
