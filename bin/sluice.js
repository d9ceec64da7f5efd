#!/usr/bin/env node
// The compiled CLI lives in dist/ (built by `npm run build`, which `npm ci` runs through `prepare`).
// The floor is package.json's engines.node: the Kafka client's dependencies need Node 22.19.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `sluice needs Node.js 22.19 or later; this is ${process.version}. ` +
      "Node 22 from the npm registry runs it too: npx -y -p node@22 -c 'npm start'\n",
  );
  process.exit(1);
}
import('../dist/cli/main.js').then((m) => m.main(process.argv.slice(2)));
