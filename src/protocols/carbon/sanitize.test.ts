import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSafeNode, sanitizeName, sanitizeNode, sanitizeTagKey, sanitizeTagValue } from './sanitize.js';

describe('path sanitiser', () => {
  const nodes: [string, string][] = [
    ['web01', 'web01'],
    ['web01.example.com', 'web01_example_com'],
    ['GET /api/users', 'GET__api_users'],
    ['a*b?[c]', 'a_b__c_'],
    ['tab\there\nnewline', 'tab_here_newline'],
    ['semi;colon=eq', 'semi_colon_eq'],
    ['(paren),{brace}', '_paren___brace_'],
    ['quote\'"back\\', 'quote__back_'],
    ['keep:-_#@%+~!$&^|<>`', 'keep:-_#@%+~!$&^|<>`'],
    ['café', 'caf_'],
    ['emoji😀!', 'emoji_!'],
    ['', ''],
  ];
  for (const [input, want] of nodes) {
    it(`node ${JSON.stringify(input)} → ${JSON.stringify(want)}`, () =>
      assert.equal(sanitizeNode(input), want));
  }

  const names: [string, string][] = [
    ['api.requests', 'api.requests'],
    ['api..requests.', 'api.requests'],
    ['.leading', 'leading'],
    ['disk free./var', 'disk_free._var'],
    ['...', ''],
  ];
  for (const [input, want] of names) {
    it(`name ${JSON.stringify(input)} → ${JSON.stringify(want)}`, () =>
      assert.equal(sanitizeName(input), want));
  }

  it('gives nodes that are safe, and names whose parts are', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const node = sanitizeNode(s);
        assert.ok(node === '' || isSafeNode(node), node);
        assert.ok(!node.includes('.'));
        for (const part of sanitizeName(s).split('.'))
          assert.ok(sanitizeName(s) === '' || isSafeNode(part), part);
        assert.equal(sanitizeNode(node), node, 'idempotent');
      }),
    );
  });
});

describe('tag sanitiser', () => {
  it('follows carbon rules for tag names and values', () => {
    assert.equal(sanitizeTagKey('a;b!c^d=e'), 'a_b_c_d_e');
    assert.equal(sanitizeTagKey('dc.zone'), 'dc.zone');
    assert.equal(sanitizeTagKey('name'), '_name');
    assert.equal(sanitizeTagValue('a=b!c^d'), 'a=b!c^d');
    assert.equal(sanitizeTagValue('x;y z'), 'x_y_z');
    assert.equal(sanitizeTagValue('~tilde'), '_tilde');
    assert.equal(sanitizeTagValue('mid~ok'), 'mid~ok');
  });

  it('never yields what carbon would refuse', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (k, v) => {
        const key = sanitizeTagKey(k);
        const value = sanitizeTagValue(v);
        for (const ch of ';!^= \t\n') assert.ok(!key.includes(ch), key);
        assert.ok(!value.includes(';') && !/\s/.test(value) && !value.startsWith('~'), value);
        assert.ok(key !== 'name');
      }),
    );
  });
});
