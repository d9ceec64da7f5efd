import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { formatPath, s, type Issue } from '../config/schema.js';
import {
  applyMappedTags,
  Mapper,
  LinearMapper,
  MappingConfigError,
  MappingResult,
  mappingSchema,
  type MappingRule,
  type MappingTypeCode,
} from './mapping.js';
import { makeTags } from '../core/tags.js';

/** What a mapping gives, in a form easy to write in tables. */
function view(r: MappingResult | 'drop' | undefined): unknown {
  if (r === undefined || r === 'drop') return r;
  return { name: r.name, tags: Object.fromEntries(r.tags) };
}

function rulesFrom(yaml: string): MappingRule[] {
  const issues: Issue[] = [];
  const rules = mappingSchema.parse(parse(yaml), ['mappings'], issues);
  assert.deepEqual(
    issues.map((i) => `${formatPath(i.path)}: ${i.message}`),
    [],
  );
  return rules as MappingRule[];
}

function issuesOf(value: unknown): string[] {
  const issues: Issue[] = [];
  mappingSchema.parse(value, ['mappings'], issues);
  return issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}

interface Case {
  name: string;
  type?: MappingTypeCode;
  want: unknown;
}

function check(rules: MappingRule[], cases: Case[]): void {
  const mapper = new Mapper(rules);
  const linear = new LinearMapper(rules);
  for (const c of cases) {
    const type = c.type ?? 'c';
    // Twice: a miss, then a cache hit.
    assert.deepEqual(view(mapper.map(c.name, type)), c.want, `${c.name} (${type})`);
    assert.deepEqual(view(mapper.map(c.name, type)), c.want, `${c.name} (${type}), cached`);
    assert.deepEqual(view(linear.map(c.name, type)), c.want, `${c.name} (${type}), linear`);
  }
}

describe('mapping rules: statsd_exporter documented examples', () => {
  it('maps the README example (globs with captures in tags)', () => {
    const rules = rulesFrom(`
- match: test.dispatcher.*.*.*
  name: "dispatcher_events_total"
  tags:
    processor: "$1"
    action: "$2"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  tags:
    provider: "$2"
    outcome: "$3"
    job: "\${1}_server"
`);
    check(rules, [
      {
        name: 'test.dispatcher.FooProcessor.send.success',
        want: {
          name: 'dispatcher_events_total',
          tags: { action: 'send', job: 'test_dispatcher', outcome: 'success', processor: 'FooProcessor' },
        },
      },
      {
        name: 'foo_product.signup.facebook.failure',
        want: {
          name: 'signup_events_total',
          tags: { job: 'foo_product_server', outcome: 'failure', provider: 'facebook' },
        },
      },
      { name: 'test.web-server.foo.bar', want: undefined },
    ]);
  });

  it('puts captures in the name, with globs and with regexes', () => {
    const glob = rulesFrom(`
- match: test.*.*.counter
  name: "\${2}_total"
  tags: { provider: "$1" }
`);
    const regex = rulesFrom(String.raw`
- match: test\.(\w+)\.(\w+)\.counter
  match_type: regex
  name: "${'${2}'}_total"
  tags: { provider: "$1" }
`);
    const want = { name: 'bar_total', tags: { provider: 'foo' } };
    check(glob, [{ name: 'test.foo.bar.counter', want }]);
    check(regex, [{ name: 'test.foo.bar.counter', want }]);
  });

  it('maps the regex example, unanchored as Go searches', () => {
    const rules = rulesFrom(String.raw`
- match: (.*)\.(.*)--(.*)\.status\.(.*)\.count
  match_type: regex
  name: request_total
  tags: { hostname: "$1", exec: "$2", protocol: "$3", code: "$4" }
- match: (.*)\.(.*)-(.*)\.(.*)
  match_type: regex
  name: proxy_requests_total
  tags: { job: "$1", protocol: "$2", endpoint: "$3", result: "$4" }
`);
    check(rules, [
      {
        name: 'web01.api--http.status.200.count',
        want: {
          name: 'request_total',
          tags: { code: '200', exec: 'api', hostname: 'web01', protocol: 'http' },
        },
      },
      {
        name: 'proxy-1.http-goober.success',
        want: {
          name: 'proxy_requests_total',
          tags: { endpoint: 'goober', job: 'proxy-1', protocol: 'http', result: 'success' },
        },
      },
    ]);
  });

  it('maps the mapper tests: long globs, empty components, dynamic names', () => {
    const rules = rulesFrom(`
- match: test.dispatcher.*.*.*
  name: dispatch_events
  tags: { processor: "$1", action: "$2", result: "$3", job: test_dispatcher }
- match: test.my-dispatch-host01.name.dispatcher.*.*.*
  name: host_dispatch_events
  tags: { processor: "$1", action: "$2", result: "$3", job: test_dispatcher }
- match: request_time.*.*.*.*.*.*.*.*.*.*.*.*
  name: tyk_http_request
  tags:
    method_and_path: "\${1}"
    response_code: "\${2}"
    apikey: "\${3}"
    apiversion: "\${4}"
    apiname: "\${5}"
    apiid: "\${6}"
    ipv4_t1: "\${7}"
    ipv4_t2: "\${8}"
    ipv4_t3: "\${9}"
    ipv4_t4: "\${10}"
    orgid: "\${11}"
    oauthid: "\${12}"
- match: test1.*.*
  name: "$1"
- match: test2.*.*
  name: "\${1}_$2"
- match: test3\\.(\\w+)\\.(\\w+)
  match_type: regex
  name: "\${2}_$1"
`);
    check(rules, [
      {
        name: 'test.my-dispatch-host01.name.dispatcher.FooProcessor.send.succeeded',
        want: {
          name: 'host_dispatch_events',
          tags: { action: 'send', job: 'test_dispatcher', processor: 'FooProcessor', result: 'succeeded' },
        },
      },
      {
        name: 'request_time.get/threads/1/posts.200.00000000.nonversioned.discussions.a11bbcdf0ac64ec243658dc64b7100fb.172.20.0.1.12ba97b7eaa1a50001000001.',
        want: {
          name: 'tyk_http_request',
          tags: {
            apiid: 'a11bbcdf0ac64ec243658dc64b7100fb',
            apikey: '00000000',
            apiname: 'discussions',
            apiversion: 'nonversioned',
            ipv4_t1: '172',
            ipv4_t2: '20',
            ipv4_t3: '0',
            ipv4_t4: '1',
            method_and_path: 'get/threads/1/posts',
            oauthid: '',
            orgid: '12ba97b7eaa1a50001000001',
            response_code: '200',
          },
        },
      },
      { name: 'test1.total_requests.count', want: { name: 'total_requests', tags: {} } },
      { name: 'test2.total_requests.count', want: { name: 'total_requests_count', tags: {} } },
      { name: 'test3.total_requests.count', want: { name: 'count_total_requests', tags: {} } },
    ]);
  });

  it('takes the first rule that matches, even when a later one is more specific', () => {
    const rules = rulesFrom(`
- match: order.*.*
  name: testa
  tags: { label: "\${1}_foo" }
- match: order.*.bbb
  name: testb
  tags: { label: "\${1}_foo" }
`);
    check(rules, [{ name: 'order.good.bbb', want: { name: 'testa', tags: { label: 'good_foo' } } }]);
  });

  it('backtracks: a rule that fails late does not leak its captures', () => {
    const rules = rulesFrom(`
- match: "*.dummy.*"
  name: metric_one
  tags: { system: "$1", attribute: "$2" }
- match: full.name.*
  name: metric_two
  tags: { system: static, attribute: "$1" }
- match: backtrack.*.bbb
  name: testb
  tags: { label: "\${1}_foo" }
- match: backtrack.justatest.aaa
  name: testa
`);
    check(rules, [
      {
        name: 'whatever.dummy.test',
        want: { name: 'metric_one', tags: { attribute: 'test', system: 'whatever' } },
      },
      {
        name: 'full.name.anothertest',
        want: { name: 'metric_two', tags: { attribute: 'anothertest', system: 'static' } },
      },
      { name: 'backtrack.justatest.bbb', want: { name: 'testb', tags: { label: 'justatest_foo' } } },
      { name: 'backtrack.justatest.aaa', want: { name: 'testa', tags: {} } },
      { name: 'backtrack.justatest.ccc', want: undefined },
    ]);
  });

  it('drops what a drop rule matches, and a catch-all regex drops the rest', () => {
    const rules = rulesFrom(`
- match: test.timing.*.*.*
  name: my_timer
  tags: { provider: "$2", outcome: "$3", job: "\${1}_server" }
- match: .
  match_type: regex
  action: drop
`);
    check(rules, [
      {
        name: 'test.timing.a.b.c',
        type: 'ms',
        want: { name: 'my_timer', tags: { job: 'a_server', outcome: 'c', provider: 'b' } },
      },
      { name: 'anything.else', want: 'drop' },
      { name: 'x', want: 'drop' },
    ]);
  });

  it('filters by metric type', () => {
    const rules = rulesFrom(`
- match: test.foo.*
  name: test_foo
  match_metric_type: counter
  tags: { provider: "$1" }
- match: test.foo.*
  name: test_foo_observed
  match_metric_type: observer
- match: test.foo.*
  name: test_foo_set
  match_metric_type: set
`);
    check(rules, [
      { name: 'test.foo.a', type: 'c', want: { name: 'test_foo', tags: { provider: 'a' } } },
      { name: 'test.foo.a', type: 'g', want: undefined },
      { name: 'test.foo.a', type: 'ms', want: { name: 'test_foo_observed', tags: {} } },
      { name: 'test.foo.a', type: 'h', want: { name: 'test_foo_observed', tags: {} } },
      { name: 'test.foo.a', type: 'd', want: { name: 'test_foo_observed', tags: {} } },
      { name: 'test.foo.a', type: 's', want: { name: 'test_foo_set', tags: {} } },
    ]);
  });
});

describe('mapping rules: sluice specifics', () => {
  it('tries glob and regex rules in config order', () => {
    const rules = rulesFrom(String.raw`
- match: /^prod\.(\w+)\.api\.(\w+)$/
  name: "api_$2"
  tags: { host: "$1", env: prod }
- match: "*.*.api.*"
  name: "api_$3"
  tags: { env: "$1", host: "$2" }
`);
    check(rules, [
      {
        name: 'prod.web01.api.requests',
        want: { name: 'api_requests', tags: { env: 'prod', host: 'web01' } },
      },
      { name: 'dev.web02.api.errors', want: { name: 'api_errors', tags: { env: 'dev', host: 'web02' } } },
    ]);
  });

  it('reads /regex/flags, named groups, RE2 (?P<name>) groups, $0 and $$', () => {
    const rules = rulesFrom(String.raw`
- match: /^(?<svc>[a-z]+)\.LATENCY$/i
  name: "${'${svc}'}_latency"
  tags: { whole: "$0" }
- match: "(?P<app>\\w+)\\.cost"
  match_type: regex
  name: "cost"
  tags: { app: "${'${app}'}", unit: "$$" }
`);
    check(rules, [
      { name: 'web.latency', want: { name: 'web_latency', tags: { whole: 'web.latency' } } },
      { name: 'Web.Latency', want: { name: 'Web_latency', tags: { whole: 'Web.Latency' } } },
      { name: 'shop.cost', want: { name: 'cost', tags: { app: 'shop', unit: '$' } } },
    ]);
  });

  it('reads $1_foo as capture 1 then _foo, and expands a group that did not take part to ""', () => {
    const rules = rulesFrom(String.raw`
- match: test.*
  name: name
  tags: { label: "$1_foo" }
- match: /^(a)|(b)$/
  name: "x$1$2"
`);
    check(rules, [
      { name: 'test.a', want: { name: 'name', tags: { label: 'a_foo' } } },
      { name: 'b', want: { name: 'xb', tags: {} } },
    ]);
  });

  it("merges tags: the rule's win by default, the line's with honor_tags", () => {
    const [ruleWins, lineWins] = [false, true].map((honor) => {
      const m = new Mapper([
        { match: 'a.*', name: 'a', tags: { env: 'prod', host: '$1' }, honor_tags: honor },
      ]);
      const r = m.map('a.web01', 'c') as MappingResult;
      return Object.fromEntries(applyMappedTags(r, makeTags({ env: 'dev', zone: 'z1' })));
    });
    assert.deepEqual(ruleWins, { env: 'prod', host: 'web01', zone: 'z1' });
    assert.deepEqual(lineWins, { env: 'dev', host: 'web01', zone: 'z1' });
  });

  it('returns sorted tags and the index of the rule that matched', () => {
    const m = new Mapper([
      { match: 'x', name: 'x' },
      { match: 'a.*.*', name: 'n', tags: { zz: '$1', aa: '$2', mm: 'm' } },
    ]);
    const r = m.map('a.1.2', 'g') as MappingResult;
    assert.deepEqual(r.tags, [
      ['aa', '2'],
      ['mm', 'm'],
      ['zz', '1'],
    ]);
    assert.equal(r.rule, 1);
    assert.equal(m.ruleFor('a.1.2', 'g'), 1);
    assert.equal(m.ruleFor('nothing', 'g'), -1);
  });

  it('maps nothing without rules', () => {
    assert.equal(new Mapper([]).map('a.b', 'c'), undefined);
  });

  it('keeps its cache bounded, and does not cache very long names', () => {
    const m = new Mapper([{ match: 'a.*', name: 'a' }], { cacheSize: 100 });
    for (let i = 0; i < 10_000; i++) m.map(`a.${i}`, 'c');
    assert.ok(m.cached <= 100, `cached ${m.cached}`);
    const long = new Mapper([{ match: /* regex */ '/^a/', name: 'a' }], { maxCachedNameLength: 10 });
    long.map('a'.repeat(11), 'c');
    long.map('a'.repeat(11), 'c');
    assert.equal(long.cached, 0);
    assert.equal(long.hits, 0);
  });

  it('caches per type only when a rule filters by type', () => {
    const m = new Mapper([{ match: 'a', name: 'b', match_metric_type: 'gauge' }]);
    assert.equal(view(m.map('a', 'c')), undefined);
    assert.deepEqual(view(m.map('a', 'g')), { name: 'b', tags: {} });
    assert.equal(view(m.map('a', 'c')), undefined);
  });

  it('throws a MappingConfigError naming the rule and field', () => {
    assert.throws(
      () =>
        new Mapper([
          { match: 'a', name: 'a' },
          { match: 'a.*', name: '$2' },
        ]),
      (e: unknown) => e instanceof MappingConfigError && e.rule === 1 && e.path[0] === 'name',
    );
  });
});

describe('mappingSchema', () => {
  it('defaults to no rules inside a source schema', () => {
    const issues: Issue[] = [];
    assert.deepEqual(s.object({ mappings: mappingSchema }).parse({}, [], issues), { mappings: [] });
    assert.deepEqual(issues, []);
  });

  it('reports each bad rule with its path', () => {
    const table: [unknown, string[]][] = [
      [[{ match: '/(/', name: 'x' }], [/^mappings\[0\]\.match: invalid regular expression/.source]],
      [[{ match: 'a.(', match_type: 'regex', name: 'x' }], [/^mappings\[0\]\.match: invalid regular/.source]],
      [
        [{ match: 'a.*', name: '$2' }],
        [/^mappings\[0\]\.name: .*capture 2, but the match has only 1/.source],
      ],
      [
        [{ match: 'a.b', name: 'x', tags: { job: '$1' } }],
        [/^mappings\[0\]\.tags\.job: .*no captures/.source],
      ],
      [[{ match: '/(?<a>x)/', name: '${b}' }], [/^mappings\[0\]\.name: .*group named "b"/.source]],
      [[{ match: 'a.*', name: 'x$y' }], [/^mappings\[0\]\.name: a "\$" in/.source]],
      [[{ match: 'a.*', name: 'x${1' }], [/^mappings\[0\]\.name: unclosed/.source]],
      [[{ match: 'a.b*', name: 'x' }], [/^mappings\[0\]\.match: "b\*": a \* must be a whole/.source]],
      [[{ match: 'a..b', name: 'x' }], [/^mappings\[0\]\.match: .*empty component/.source]],
      [[{ match: 'a.*' }], [/^mappings\[0\]\.name: is required/.source]],
      [
        [{ match: 'a', name: 'x', match_metric_type: 'timers' }],
        [/^mappings\[0\]\.match_metric_type: expected one of/.source],
      ],
      [[{ match: 'a', name: 'x', labels: {} }], [/^mappings\[0\]\.labels: unknown key/.source]],
      [
        [
          { match: 'ok.*', name: '$1' },
          { match: '*.*', name: 'catchall', tags: { third: '$3' } },
        ],
        [/^mappings\[1\]\.tags\.third: .*capture 3, but the match has only 2/.source],
      ],
      ['a.b', [/^mappings: expected a list/.source]],
    ];
    for (const [value, patterns] of table) {
      const got = issuesOf(value);
      assert.equal(got.length, patterns.length, `${JSON.stringify(value)}: ${got.join('; ')}`);
      got.forEach((g, i) => assert.match(g, new RegExp(patterns[i] as string), JSON.stringify(value)));
    }
  });

  it('accepts a drop rule without a name, and a glob that looks like a regex when told so', () => {
    assert.deepEqual(issuesOf([{ match: 'debug.*', action: 'drop' }]), []);
    const rules = rulesFrom(`
- match: /a/
  match_type: glob
  name: slash
`);
    check(rules, [{ name: '/a/', want: { name: 'slash', tags: {} } }]);
  });
});

// ---- properties ------------------------------------------------------------------------------

const component = fc.constantFrom('a', 'b', 'c', 'api', '');
const nameArb = fc.array(component, { minLength: 1, maxLength: 5 }).map((cs) => cs.join('.'));
const typeArb = fc.constantFrom<MappingTypeCode>('c', 'g', 'ms', 'h', 's', 'd');
const globRuleArb: fc.Arbitrary<MappingRule> = fc
  .record({
    parts: fc.array(fc.constantFrom('a', 'b', 'api', '*'), { minLength: 1, maxLength: 5 }),
    type: fc.option(fc.constantFrom('counter', 'gauge', 'observer', 'set') as fc.Arbitrary<'counter'>, {
      nil: undefined,
    }),
    drop: fc.boolean(),
  })
  .map(({ parts, type, drop }) => {
    const stars = parts.filter((p) => p === '*').length;
    const tags: Record<string, string> = {};
    for (let i = 1; i <= stars; i++) tags[`t${i}`] = `$${i}`;
    return {
      match: parts.join('.'),
      match_metric_type: type,
      action: drop ? ('drop' as const) : ('map' as const),
      name: stars > 0 ? `n_$${stars}` : 'n',
      tags,
    };
  });
const regexRuleArb: fc.Arbitrary<MappingRule> = fc
  .constantFrom('/^a\\.(\\w*)$/', '/b/', '/^(api)\\.(.*)$/', '/\\.\\./')
  .map((match) => ({ match, name: match.includes('(') ? 'r_$1' : 'r' }));
const rulesArb = fc.array(fc.oneof({ weight: 4, arbitrary: globRuleArb }, regexRuleArb), { maxLength: 12 });

describe('mapping properties', () => {
  it('the trie finds what trying each rule in turn finds', () => {
    fc.assert(
      fc.property(rulesArb, fc.array(fc.tuple(nameArb, typeArb), { maxLength: 20 }), (rules, names) => {
        const mapper = new Mapper(rules, { cacheSize: 8 });
        const linear = new LinearMapper(rules);
        for (const [name, type] of names) {
          const want = view(linear.map(name, type));
          assert.deepEqual(view(mapper.map(name, type)), want);
          assert.deepEqual(view(mapper.map(name, type)), want);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a glob without wildcards matches exactly its own name', () => {
    const literal = fc.array(fc.stringMatching(/^[a-z0-9_-]{1,4}$/), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(
        literal,
        fc.oneof(
          literal,
          nameArb.map((n) => n.split('.')),
        ),
        (pattern, other) => {
          const m = new Mapper([{ match: pattern.join('.'), name: 'hit' }]);
          assert.deepEqual(view(m.map(pattern.join('.'), 'c')), { name: 'hit', tags: {} });
          const name = other.join('.');
          assert.equal(m.map(name, 'c') !== undefined, name === pattern.join('.'));
        },
      ),
    );
  });

  it('never throws on any name', () => {
    const nameChar = fc.constantFrom('a', 'b', '.', '*', '$', '{', '\\', '\n', 'é', '😀', '\ud800');
    const m = new Mapper(
      rulesFrom(String.raw`
- match: "*.*.*"
  name: "$1_$3"
  tags: { b: "$2" }
- match: /^(.*)\.(.*)$/
  name: "${'${2}'}"
- match: a.*
  action: drop
`),
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 60 }), fc.string({ unit: nameChar, maxLength: 30 })),
        typeArb,
        (name, type) => {
          const r = m.map(name, type);
          assert.ok(r === undefined || r === 'drop' || r instanceof MappingResult);
        },
      ),
    );
  });
});
