import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { clearSecrets, redactSecrets, registerSecret } from './secrets.js';

describe('redactSecrets', () => {
  afterEach(() => clearSecrets());

  it('masks a registered secret in its plain, JSON-escaped, URL-encoded and base64 forms', () => {
    registerSecret('pa"ss/wörd');
    const s = 'pa"ss/wörd';
    for (const form of [
      s,
      JSON.stringify(s).slice(1, -1),
      encodeURIComponent(s),
      Buffer.from(s).toString('base64'),
    ])
      assert.equal(redactSecrets(`before ${form} after`), 'before *** after', form);
  });

  it('masks the password of any URL, registered or not, and keeps the user', () => {
    assert.equal(
      redactSecrets('"http://bob:hunter2@db:8086" holds credentials; see https://x.org/a@b'),
      '"http://bob:***@db:8086" holds credentials; see https://x.org/a@b',
    );
    assert.equal(redactSecrets('kafka://u:p@h:9092 and ftp://h/x'), 'kafka://u:***@h:9092 and ftp://h/x');
  });

  it('leaves text alone when nothing is registered, and ignores secrets too short to mask safely', () => {
    registerSecret('abc');
    assert.equal(redactSecrets('abc abcd'), 'abc abcd');
  });

  it('no registered secret survives in any text around it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 4 }), fc.string(), fc.string(), (secret, a, b) => {
        clearSecrets();
        registerSecret(secret);
        assert.ok(!redactSecrets(a + secret + b).includes(secret));
      }),
    );
  });
});
