import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileTemplate, type Template } from './template.js';

describe('compileTemplate', () => {
  it('reads literal nodes and placeholders', () => {
    const t = compileTemplate('stats.{host}.{name}.{tag:field}.{k8s.pod}.{tags}.{field}') as Template;
    assert.deepEqual(t.nodes, [
      { kind: 'literal', text: 'stats' },
      { kind: 'tag', key: 'host' },
      { kind: 'name' },
      { kind: 'tag', key: 'field' },
      { kind: 'tag', key: 'k8s.pod' },
      { kind: 'tags' },
      { kind: 'field' },
    ]);
    assert.equal(t.hasField, true);
    assert.equal(t.hasTags, true);
    assert.deepEqual([...t.usedKeys].sort(), ['field', 'host', 'k8s.pod']);
  });

  it('accepts the bpftrace client layout', () => {
    const t = compileTemplate('{host}.cpu-lat.{bucket}') as Template;
    assert.equal(t.hasField, false);
    assert.deepEqual(t.nodes[1], { kind: 'literal', text: 'cpu-lat' });
  });

  const errors: [string, RegExp][] = [
    ['', /empty node/],
    ['a..b', /empty node/],
    ['.a', /empty node/],
    ['{name}.', /empty node/],
    ['{name', /not closed/],
    ['name}', /without "\{"/],
    ['{a{b}}', /nested/],
    ['x{name}', /mixes/],
    ['{name}_total', /mixes/],
    ['a b', /characters Graphite paths cannot hold/],
    ['a/b', /characters/],
    ['a*', /characters/],
    ['{}', /names no tag/],
    ['{tag:}', /names no tag/],
    ['{name}.{name}', /appears twice/],
    ['{host}.{tag:host}', /appears twice/],
  ];
  for (const [source, message] of errors) {
    it(`rejects ${JSON.stringify(source)}`, () => {
      const r = compileTemplate(source);
      assert.equal(typeof r, 'string', JSON.stringify(r));
      assert.match(r as string, message);
    });
  }

  it('never throws, and compiles back to the same nodes from what it accepted', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', 'b', '.', '{', '}', ':', 't', 'g', ' ', '*') }),
        (source) => {
          const r = compileTemplate(source);
          if (typeof r !== 'string') {
            assert.equal(r.source, source);
            assert.ok(r.nodes.length > 0);
          }
        },
      ),
    );
  });
});
