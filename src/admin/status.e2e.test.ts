/**
 * The status page in a real browser: Debian's chromium, headless, driven through the DevTools
 * protocol by playwright-core (never a downloaded browser). The built `sluice` runs as a
 * process with StatsD, the internal source and the Prometheus exporter; the test checks that the
 * page renders without console errors, that its screenshot is not blank, that every figure it
 * shows equals the same series in a scrape of /metrics, and that a bad line sent over UDP (one
 * holding markup) appears among the rejections, as text, with its sender, within seconds.
 *
 * Skipped without chromium (Debian: chromium), except under CI=true, where its absence fails.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import dgram from 'node:dgram';
import { inflateSync } from 'node:zlib';
import { test } from 'node:test';
import { chromium, type Page } from 'playwright-core';
import { freePort, httpGet, listeningOn, startSluice } from '../testing/processes.js';
import { sendStatsd, waitForUdpDrain } from '../testing/udp.js';
import { promtoolProblems } from '../testing/promtool.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const skip =
  !hasChromium && process.env.CI !== 'true' ? `no browser at ${CHROMIUM} (apt-get install chromium)` : false;

/**
 * The page's globals, for functions that run in the page: this project compiles without the
 * DOM's types, and the page's policy forbids evaluating strings.
 */
interface PageGlobals {
  document: {
    body: { dataset: Record<string, string> };
    querySelectorAll(selector: string): { length: number };
  };
}

/**
 * Polls a predicate in the page. Playwright's waitForFunction builds its predicate with eval,
 * which the page's policy forbids (as it should); evaluate runs a function through the DevTools
 * protocol instead.
 */
async function waitInPage(
  page: Page,
  predicate: (arg: number) => boolean,
  arg: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(predicate, arg))) {
    if (Date.now() > deadline)
      throw new Error(`the page did not reach ${predicate.toString()} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Samples of a Prometheus text scrape, by name, with their labels. */
function parseScrape(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (m === null) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = JSON.parse(`"${l[2] as string}"`) as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The figures the page shows that mirror /metrics: name, labels, and the number as displayed. */
async function pageFigures(
  page: Page,
): Promise<{ metric: string; labels: Record<string, string>; text: string }[]> {
  return page.$$eval('[data-metric]', (cells) =>
    cells.map((c) => {
      // Runs in the page (this project compiles without the DOM's types).
      const e = c as unknown as { dataset: Record<string, string>; textContent: string | null };
      return {
        metric: e.dataset.metric as string,
        labels: JSON.parse(e.dataset.labels as string) as Record<string, string>,
        text: e.textContent ?? '',
      };
    }),
  );
}

/** Distinct colours in a PNG (8-bit RGB or RGBA, as Chromium writes), from its decoded pixels. */
function distinctColours(png: Buffer): number {
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const length = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels > 0, `colour type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const cur = Buffer.alloc(stride);
  const colours = new Set<number>();
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? (cur[i - channels] as number) : 0;
      const b = prev[i] as number;
      const c = i >= channels ? (prev[i - channels] as number) : 0;
      const x = line[i] as number;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      cur[i] = v & 0xff;
    }
    for (let i = 0; i < stride; i += channels)
      colours.add((cur[i]! << 16) | (cur[i + 1]! << 8) | cur[i + 2]!);
    cur.copy(prev);
  }
  return colours.size;
}

test(
  'the status page renders, matches /metrics, and shows a bad UDP line with its sender',
  { skip, timeout: 120_000 },
  async (t) => {
    const statsdPort = await freePort('udp');
    const adminPort = await freePort('tcp');
    const exporterPort = await freePort('tcp');
    const sluice = startSluice({
      owner: t,
      config: `agent:
  admin_listen: 127.0.0.1:${adminPort}
sources:
  statsd:
    type: statsd
    listen: udp://127.0.0.1:${statsdPort}
    flush_interval: 1s
  internal:
    type: internal
    interval: 1s
sinks:
  prometheus:
    type: prometheus_exporter
    listen: 127.0.0.1:${exporterPort}
`,
    });
    await sluice.waitForLog((l) => l.msg === 'sluice started.');
    await sluice.waitForLog(listeningOn(statsdPort));
    const base = `http://127.0.0.1:${adminPort}/`;

    await sendStatsd(statsdPort, [
      'checkout.latency:12|ms|#region:eu',
      'checkout.orders:3|c',
      'queue.depth:7|g',
    ]);
    await waitForUdpDrain(statsdPort);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1400, height: 1800 } });
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('dialog', (d) => {
      problems.push(`a dialog opened: ${d.message()}`);
      void d.dismiss();
    });
    await page.goto(base);
    await page.waitForSelector('#components tbody tr td');
    assert.equal(await page.textContent('#version'), '0.1.0');

    // A bad line holding markup, from a socket whose port we know: it must show, as text, with its sender.
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve()));
    const from = `udp://127.0.0.1:${client.address().port}`;
    const bad = '<img src=x onerror=alert(1)>';
    await new Promise<void>((resolve, reject) =>
      client.send(`good.line:1|c\n${bad}`, statsdPort, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
    client.close();
    const shownAt = Date.now();
    const rejectedRow = page.locator('#rejected-lines tbody tr', { hasText: bad });
    await rejectedRow.waitFor({ timeout: 10_000 });
    const seconds = (Date.now() - shownAt) / 1000;
    assert.ok(seconds < 5, `the bad line showed after ${seconds} s`);
    const cells = await rejectedRow.locator('td').allTextContents();
    assert.deepEqual(cells.slice(1), ['statsd', from, 'missing_value', bad]);
    assert.equal(await page.locator('#rejected-lines img').count(), 0, 'the line stayed text');

    // Every figure the page shows equals the series of the same name and labels in a scrape, once
    // the traffic has stopped. Counters the agent's own reporting moves on each collection (the
    // internal source's, the exporter's intake) change between the page's read and the scrape;
    // they are compared when they did not move between two reads of the page around the scrape.
    const key = [
      'sluice_lines_received_total',
      'sluice_lines_rejected_total',
      'sluice_series',
      'sluice_series_limit',
    ];
    let lastMismatch = '';
    let compared = 0;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const before = await pageFigures(page);
      const text = (await httpGet(`http://127.0.0.1:${exporterPort}/metrics`)).body.toString('utf8');
      assert.deepEqual(promtoolProblems(text), [], 'promtool check metrics on the scrape');
      const scrape = parseScrape(text);
      await waitInPage(
        page,
        (at: number) => Number((globalThis as unknown as PageGlobals).document.body.dataset.updated) > at,
        Date.now(),
        10_000,
      );
      const after = await pageFigures(page);
      const mismatches: string[] = [];
      compared = 0;
      const seen = new Set<string>();
      for (const [i, f] of before.entries()) {
        if (after[i]?.text !== f.text || after[i]?.metric !== f.metric) continue;
        const shown = Number(f.text.replace(/,/g, ''));
        const series = scrape.filter(
          (s) => s.name === f.metric && Object.entries(f.labels).every(([k, v]) => s.labels[k] === v),
        );
        if (series.length !== 1) {
          mismatches.push(`${f.metric}${JSON.stringify(f.labels)}: ${series.length} series in the scrape`);
          continue;
        }
        const value = series[0]!.value;
        const ok = Number.isInteger(value)
          ? shown === value
          : Math.abs(shown - value) <= 0.0005 * Math.max(1, Math.abs(value));
        if (!ok) mismatches.push(`${f.metric}${JSON.stringify(f.labels)}: page ${f.text}, /metrics ${value}`);
        else {
          compared++;
          seen.add(f.metric);
        }
      }
      const missing = key.filter((k) => !seen.has(k));
      if (mismatches.length === 0 && missing.length === 0) break;
      lastMismatch = [...mismatches, ...missing.map((k) => `${k}: not compared yet`)].join('\n');
      if (Date.now() > deadline)
        assert.fail(`the page and /metrics disagree (${compared} figures agreed):\n${lastMismatch}`);
    }
    const received = (await pageFigures(page)).find(
      (f) => f.metric === 'sluice_lines_received_total' && f.labels.component === 'statsd',
    );
    assert.equal(received?.text, '5', 'three lines, then two');

    // Charts get their history within one sample period; the page is then not blank.
    await waitInPage(
      page,
      () =>
        (globalThis as unknown as PageGlobals).document.querySelectorAll('#charts svg polyline').length > 0,
      0,
      15_000,
    );
    const png = await page.screenshot({ fullPage: true });
    const colours = distinctColours(png);
    assert.ok(colours > 20, `a screenshot with ${colours} colours is blank`);
    assert.deepEqual(problems, []);
  },
);
