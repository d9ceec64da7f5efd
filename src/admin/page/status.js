// The status page's script: plain browser JavaScript, no build step, no outside resources. It
// polls the admin API (relative URLs, so it works behind a proxy or a path prefix) and builds
// every element with textContent: rejected lines are whatever clients sent, never markup.
//
// Every figure that mirrors a series of the agent's /metrics carries that series' name and
// labels (data-metric, data-labels), so a test can check the page against a scrape.

const STATUS_MS = 2000;
const HISTORY_MS = 5000;
const COLORS = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#57606a'];

/** @type {any} */
let previous;
/** @type {number} */
let previousAt = 0;

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className !== undefined) e.className = className;
  return e;
}

function formatNumber(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

function formatRate(v) {
  if (v === undefined) return '…';
  if (v === 0) return '0';
  return v < 10 ? v.toFixed(2) : formatNumber(Math.round(v));
}

function formatDuration(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return (d > 0 ? `${d}d ` : '') + (d > 0 || h > 0 ? `${h}h ` : '') + `${m}m ${s % 60}s`;
}

const formatTime = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });

/** The name a figure has in a Prometheus scrape of the agent (counters get `_total`). */
const promName = (f) => (f.kind === 'counter' ? `${f.name}_total` : f.name);

/** A cell holding a figure of /metrics, marked so a test can find it. */
function figureCell(f, className = 'n') {
  const td = el('td', formatNumber(f.value), className);
  td.dataset.metric = promName(f);
  const labels = { ...f.labels };
  delete labels.component_type;
  td.dataset.labels = JSON.stringify(labels);
  return td;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) tr.append(typeof c === 'string' ? el('td', c) : c);
  return tr;
}

function fill(tableId, rows, emptyText, columns) {
  const body = $(tableId).tBodies[0];
  if (rows.length === 0) {
    const td = el('td', emptyText, 'empty');
    td.colSpan = columns;
    body.replaceChildren(row([td]));
  } else body.replaceChildren(...rows);
}

/** Figures of one component with this name. */
const figuresOf = (status, id, name) =>
  status.figures.filter((f) => f.name === name && f.labels.component === id);

const sum = (figures) => figures.reduce((a, f) => a + f.value, 0);

/** What a component counts as taken in and handed on, by kind (as `sluice top` reads them). */
function inOut(status, c) {
  const pick = (...names) => {
    for (const n of names) {
      const fs = figuresOf(status, c.id, n);
      if (fs.length > 0) return fs;
    }
    return [];
  };
  return c.kind === 'source'
    ? {
        in: pick('sluice_lines_received', 'sluice_metrics_emitted'),
        out: pick('sluice_metrics_emitted'),
        rejected: pick('sluice_lines_rejected'),
        dropped: pick('sluice_udp_socket_drops', 'sluice_lines_lost'),
      }
    : {
        in: pick('sluice_metrics_received'),
        out: pick('sluice_points_sent', 'sluice_metrics_sent', 'sluice_lines_sent'),
        rejected: [],
        dropped: pick('sluice_dropped_metrics', 'sluice_dropped_lines'),
      };
}

function rateOf(status, c, key, seconds) {
  if (previous === undefined || seconds <= 0) return undefined;
  const before = previous.components.find((p) => p.id === c.id);
  if (before === undefined) return undefined;
  const now = sum(inOut(status, c)[key]);
  const then = sum(inOut(previous, before)[key]);
  return Math.max(0, now - then) / seconds;
}

/** A total: one figure shown as itself, several as their sum (no single series to match). */
function totalCell(figures) {
  if (figures.length === 1) return figureCell(figures[0]);
  return el('td', figures.length === 0 ? '-' : formatNumber(sum(figures)), 'n');
}

function renderHeader(status) {
  $('version').textContent = status.version;
  $('uptime').textContent = formatDuration(status.uptime_seconds);
  const ready = $('ready');
  ready.textContent = status.ready ? 'ready' : 'not ready';
  ready.className = status.ready ? 'up' : 'down';
  const loop = status.event_loop;
  $('loop').textContent =
    loop === undefined || loop === null
      ? '…'
      : `${formatNumber(loop.p99)} / ${formatNumber(loop.max)} ms ` +
        `(busy ${(loop.utilization * 100).toFixed(1)} %)`;
  const r = status.last_reload;
  const reload = $('reload');
  if (r === null) {
    reload.textContent = 'none';
    reload.className = '';
  } else if (r.result === 'applied') {
    const c = r.changes;
    const changed = [...c.added, ...c.removed, ...c.rebuilt, ...c.reconfigured];
    reload.textContent = `applied at ${formatTime(r.at)} (${changed.length} changed)`;
    reload.title = JSON.stringify(c);
    reload.className = 'up';
  } else {
    reload.textContent = `failed at ${formatTime(r.at)}: ${r.problems[0] ?? ''}`;
    reload.title = r.problems.join('\n');
    reload.className = 'down';
  }
}

function renderComponents(status, seconds) {
  fill(
    'components',
    status.components.map((c) => {
      const io = inOut(status, c);
      return row([
        c.id,
        `${c.kind} · ${c.type}`,
        el('td', c.state, `state-${c.state}`),
        el('td', formatRate(rateOf(status, c, 'in', seconds)), 'n'),
        el('td', formatRate(rateOf(status, c, 'out', seconds)), 'n'),
        el('td', c.kind === 'source' ? formatRate(rateOf(status, c, 'rejected', seconds)) : '-', 'n'),
        el('td', formatRate(rateOf(status, c, 'dropped', seconds)), 'n'),
        totalCell(io.in),
        totalCell(io.out),
      ]);
    }),
    'no components',
    9,
  );
}

function renderRejections(status) {
  const counts = status.figures.filter((f) => f.name === 'sluice_lines_rejected' && f.value > 0);
  fill(
    'rejection-counts',
    counts.map((f) => row([f.labels.component, f.labels.reason, figureCell(f)])),
    'nothing rejected',
    3,
  );
  const lines = status.components
    .flatMap((c) => (c.rejections ?? []).map((r) => ({ ...r, source: c.id })))
    .sort((a, b) => (b.at ?? 0) - (a.at ?? 0));
  fill(
    'rejected-lines',
    lines.map((r) =>
      row([
        r.at === undefined ? '-' : formatTime(r.at),
        r.source,
        r.from ?? '-',
        r.reason,
        el('td', r.line, 'line'),
      ]),
    ),
    'no rejected lines kept',
    5,
  );
}

function renderSinks(status) {
  const rows = [];
  for (const c of status.components.filter((x) => x.kind === 'sink')) {
    const up = figuresOf(status, c.id, 'sluice_endpoint_up');
    const endpoints = up.length > 0 ? up.map((f) => f.labels.endpoint) : [undefined];
    for (const endpoint of endpoints) {
      const match = (name) =>
        figuresOf(status, c.id, name).filter((f) => endpoint === undefined || f.labels.endpoint === endpoint);
      const one = (name) => {
        const fs = match(name);
        return fs.length === 1 ? figureCell(fs[0]) : el('td', '-', 'n');
      };
      const upFigure = match('sluice_endpoint_up')[0];
      const upCell =
        upFigure === undefined
          ? el('td', c.state === 'running' ? 'running' : c.state, c.state === 'running' ? 'up' : 'down')
          : el('td', upFigure.value === 1 ? 'up' : 'down', upFigure.value === 1 ? 'up' : 'down');
      const drops = match('sluice_dropped_metrics')
        .concat(match('sluice_dropped_lines'))
        .filter((f) => f.value > 0);
      const dropCell = document.createElement('td');
      if (drops.length === 0) dropCell.textContent = 'none';
      for (const f of drops) {
        const span = el('span', `${f.labels.reason}: `);
        const n = el('span', formatNumber(f.value));
        n.dataset.metric = promName(f);
        const labels = { ...f.labels };
        delete labels.component_type;
        n.dataset.labels = JSON.stringify(labels);
        dropCell.append(span, n, el('br'));
      }
      rows.push(
        row([
          c.id,
          endpoint ?? '-',
          upCell,
          one('sluice_buffered_points'),
          one('sluice_buffer_limit_points'),
          one('sluice_retries'),
          dropCell,
        ]),
      );
    }
  }
  fill('sinks', rows, 'no sinks', 7);
}

function renderListeners(status) {
  const rows = [];
  for (const f of status.figures.filter((x) => x.name === 'sluice_udp_receive_queue_bytes')) {
    const drops = status.figures.find(
      (d) =>
        d.name === 'sluice_udp_socket_drops' &&
        d.labels.component === f.labels.component &&
        d.labels.listener === f.labels.listener,
    );
    rows.push(
      row([
        f.labels.component,
        f.labels.listener,
        drops === undefined ? el('td', '0', 'n') : figureCell(drops),
        figureCell(f),
      ]),
    );
  }
  fill('listeners', rows, 'no UDP listeners (or no traffic yet)', 4);
  const series = status.figures.filter((f) => f.name === 'sluice_series');
  fill(
    'series',
    series.map((f) => {
      const limit = figuresOf(status, f.labels.component, 'sluice_series_limit')[0];
      const bar = el('span', undefined, 'bar');
      const share = limit === undefined || limit.value === 0 ? 0 : Math.min(1, f.value / limit.value);
      if (share >= 0.9) bar.classList.add('full');
      const inner = el('span');
      inner.style.width = `${(share * 100).toFixed(1)}%`;
      bar.append(inner);
      const use = el('td');
      use.append(bar, ` ${(share * 100).toFixed(1)} %`);
      return row([
        f.labels.component,
        figureCell(f),
        limit === undefined ? el('td', '-', 'n') : figureCell(limit),
        use,
      ]);
    }),
    'no aggregating sources',
    4,
  );
}

function renderNames(status) {
  const top = status.figures
    .filter((f) => f.name === 'sluice_series_new_top_names')
    .sort((a, b) => b.value - a.value)
    .slice(0, 10);
  fill(
    'names-series',
    top.map((f) => row([f.labels.component, f.labels.name, figureCell(f)])),
    'no new series in the last interval',
    3,
  );
  const busiest = status.busiest_names ?? [];
  // With a sink publishing state for aggregators: which of each name's series go global.
  const global = busiest.some((n) => n.global !== undefined);
  $('names-global').hidden = !global;
  const scopes = { all: 'yes', some: 'some series', none: 'no' };
  fill(
    'names-rate',
    busiest.map((n) =>
      row([n.name, el('td', formatRate(n.rate), 'n'), ...(global ? [scopes[n.global] ?? 'no'] : [])]),
    ),
    status.busiest_names === undefined
      ? 'counting (first figures within 5 s)…'
      : 'nothing reached the sinks in the last minute',
    global ? 3 : 2,
  );
}

// ---- charts ----

const charts = [
  { id: 'in', title: 'Received per second (sources)', prefix: 'in:', rate: true, kind: 'source' },
  { id: 'out', title: 'Delivered per second (sinks)', prefix: 'out:', rate: true, kind: 'sink' },
  { id: 'rejected', title: 'Rejected lines per second', prefix: 'rejected:', rate: true },
  {
    id: 'dropped',
    title: 'Dropped per second (sinks, kernel, lost)',
    prefix: ['dropped:', 'kernel_drops:'],
    rate: true,
  },
  {
    id: 'loop',
    title: 'Event loop late by (ms, p99 and max)',
    keys: ['loop_delay_p99_ms', 'loop_delay_max_ms'],
  },
  { id: 'series', title: 'Series held', prefix: 'series:' },
  { id: 'memory', title: 'Memory (MiB)', keys: ['rss_bytes', 'heap_used_bytes'], scale: 1 / 1048576 },
];

/** Rate per second from a cumulative column; a drop (a restarted counter) shows as a gap. */
function toRates(t, column) {
  const out = [null];
  for (let i = 1; i < column.length; i++) {
    const a = column[i - 1];
    const b = column[i];
    out.push(a === null || b === null || b < a ? null : (b - a) / ((t[i] - t[i - 1]) / 1000));
  }
  return out;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function drawChart(figure, spec, history, kinds) {
  const t = history.t;
  const lines = [];
  for (const [key, column] of Object.entries(history.series)) {
    const prefixes = spec.prefix === undefined ? [] : [].concat(spec.prefix);
    const matches = spec.keys?.includes(key) || prefixes.some((p) => key.startsWith(p));
    if (!matches) continue;
    const id = prefixes.reduce((k, p) => (k.startsWith(p) ? k.slice(p.length) : k), key);
    if (spec.kind !== undefined && kinds.get(id) !== spec.kind) continue;
    const values = spec.rate
      ? toRates(t, column)
      : column.map((v) => (v === null ? null : v * (spec.scale ?? 1)));
    lines.push({ label: key.startsWith('kernel_drops:') ? `${id} (kernel)` : id.replace(/_/g, ' '), values });
  }
  const width = 400;
  const height = 140;
  const left = 44;
  const bottom = 16;
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': spec.title });
  const end = t.length > 0 ? t[t.length - 1] : Date.now();
  const start = end - 15 * 60 * 1000;
  let max = 0;
  for (const l of lines) for (const v of l.values) if (v !== null && v > max) max = v;
  if (max === 0) max = 1;
  const x = (ms) => left + ((ms - start) / (end - start)) * (width - left - 4);
  const y = (v) => height - bottom - (v / max) * (height - bottom - 8);
  svg.append(svgEl('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, class: 'axis' }));
  svg.append(svgEl('line', { x1: left, y1: 4, x2: left, y2: height - bottom, class: 'axis' }));
  const top = svgEl('text', { x: left - 4, y: 12, 'text-anchor': 'end' });
  top.textContent = formatRate(max);
  const zero = svgEl('text', { x: left - 4, y: height - bottom, 'text-anchor': 'end' });
  zero.textContent = '0';
  const ago = svgEl('text', { x: left, y: height - 3 });
  ago.textContent = '-15 min';
  const now = svgEl('text', { x: width - 4, y: height - 3, 'text-anchor': 'end' });
  now.textContent = 'now';
  svg.append(top, zero, ago, now);
  const legend = el('div', undefined, 'legend');
  lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length];
    let points = [];
    const flush = () => {
      if (points.length > 0) svg.append(svgEl('polyline', { points: points.join(' '), stroke: color }));
      points = [];
    };
    l.values.forEach((v, j) => {
      if (v === null || t[j] < start) return flush();
      points.push(`${x(t[j]).toFixed(1)},${y(v).toFixed(1)}`);
    });
    flush();
    const swatch = el('span', l.label);
    swatch.style.setProperty('--swatch', color);
    legend.append(swatch);
  });
  if (lines.length === 0) legend.append(el('span', 'nothing yet', 'empty'));
  const caption = el('figcaption', spec.title);
  figure.replaceChildren(caption, svg, legend);
}

async function refreshHistory() {
  try {
    const history = await (await fetch('api/v1/history', { cache: 'no-store' })).json();
    const kinds = new Map((previous?.components ?? []).map((c) => [c.id, c.kind]));
    const box = $('charts');
    for (const spec of charts) {
      let figure = document.getElementById(`chart-${spec.id}`);
      if (figure === null) {
        figure = el('figure');
        figure.id = `chart-${spec.id}`;
        box.append(figure);
      }
      drawChart(figure, spec, history, kinds);
    }
  } catch (error) {
    $('connection').textContent = `history unavailable: ${error.message}`;
  }
}

async function refreshStatus() {
  let status;
  try {
    const response = await fetch('api/v1/status', { cache: 'no-store' });
    if (!response.ok) throw new Error(`status answered ${response.status}`);
    status = await response.json();
    $('connection').textContent = '';
  } catch (error) {
    $('connection').textContent = `agent unreachable: ${error.message} (retrying)`;
    return;
  }
  const seconds = previous === undefined ? 0 : (status.now - previousAt) / 1000;
  renderHeader(status);
  renderComponents(status, seconds);
  renderRejections(status);
  renderSinks(status);
  renderListeners(status);
  renderNames(status);
  previous = status;
  previousAt = status.now;
  document.body.dataset.updated = String(status.now);
}

async function loop(fn, ms) {
  await fn();
  setTimeout(() => loop(fn, ms), ms);
}

void loop(refreshStatus, STATUS_MS).then(() => loop(refreshHistory, HISTORY_MS));
