import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { s, type Issue } from '../../config/schema.js';
import { listenSchema } from './address.js';
import { parseSocketMode, TRANSPORT_DEFAULTS, transportOptionsSchema, transportSample } from './schema.js';

// What a listening source's schema looks like with the transport options spread in.
const sourceSchema = s.object({
  listen: listenSchema({ default: '127.0.0.1:8125' }),
  ...transportOptionsSchema,
});

function parseOptions(value: Record<string, unknown>): { value: unknown; issues: Issue[] } {
  const issues: Issue[] = [];
  return { value: sourceSchema.parse(value, [], issues), issues };
}

describe('transport options schema', () => {
  it('defaults to TRANSPORT_DEFAULTS, and documents every field', () => {
    const { value, issues } = parseOptions({});
    assert.deepEqual(issues, []);
    const { listen, ...rest } = value as Record<string, unknown>;
    assert.deepEqual(rest, TRANSPORT_DEFAULTS);
    assert.equal((listen as { url: string }[])[0]?.url, 'udp://127.0.0.1:8125');
    for (const [key, field] of Object.entries(transportOptionsSchema))
      assert.ok(field.doc, `${key} has a doc`);
  });

  it('accepts its sample lines, which show every option at its default', () => {
    const doc = parse(`  statsd:\n    type: statsd\n    listen: 127.0.0.1:8125\n${transportSample}`) as {
      statsd: Record<string, unknown>;
    };
    const { type, ...body } = doc.statsd;
    assert.equal(type, 'statsd');
    const { value, issues } = parseOptions(body);
    assert.deepEqual(issues, []);
    const { listen: _listen, ...rest } = value as Record<string, unknown>;
    assert.deepEqual(rest, TRANSPORT_DEFAULTS);
    for (const key of Object.keys(transportOptionsSchema)) assert.ok(key in body, `${key} is in the sample`);
    for (const line of transportSample.split('\n'))
      if (line !== '')
        assert.match(line, /^ {4}( {2})?(# |[a-z_]+:( |$))/, 'indented four spaces (six inside tls)');
  });

  it('refuses bad values with one issue each', () => {
    for (const bad of [
      { max_line_bytes: 10 },
      { max_connections: 0 },
      { idle_timeout: 'soon' },
      { socket_mode: 660 },
      { decompress: 'gzip' },
      { max_decompressed_bytes: 1e12 },
      { receive_buffer_bytes: -1 },
      { max_line_byte: 100 },
    ]) {
      const { issues } = parseOptions(bad);
      assert.equal(issues.length, 1, JSON.stringify(bad));
    }
  });

  it('is documented in the README with the same sample', () => {
    // Next to the build (dist/ beside src/), else relative to the working directory (the repo).
    const besideBuild = fileURLToPath(new URL('../../../src/sources/transport/README.md', import.meta.url));
    const file = existsSync(besideBuild) ? besideBuild : resolve('src/sources/transport/README.md');
    const readme = readFileSync(file, 'utf8');
    for (const line of transportSample.split('\n')) if (line !== '') assert.ok(readme.includes(line), line);
    for (const key of Object.keys(transportOptionsSchema)) assert.ok(readme.includes(`\`${key}\``), key);
  });
});

describe('parseSocketMode', () => {
  const table: [unknown, number | RegExp][] = [
    ['0660', 0o660],
    ['660', 0o660],
    ['0o600', 0o600],
    ['0777', 0o777],
    ['0000', 0],
    [660, /got the number 660 .*quote it/],
    ['0o1660', /setuid, setgid and sticky/],
    ['4755', /setuid, setgid and sticky/],
    ['0668', /quoted octal string/],
    ['rw-rw----', /quoted octal string/],
    ['66', /quoted octal string/],
    [null, /quoted octal string/],
  ];
  for (const [input, expected] of table) {
    it(JSON.stringify(input), () => {
      const r = parseSocketMode(input);
      if (typeof expected === 'number') assert.deepEqual(r, { ok: true, value: expected });
      else {
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.message, expected);
      }
    });
  }
});
