import { describe, expect, it } from 'vitest';
import { formatPkcs11Uri, parsePkcs11Uri, redactPkcs11Uri } from '../../src/pkcs11/pkcs11-uri.js';

describe('PKCS#11 URI (RFC 7512)', () => {
  it('parses path and query attributes, percent-decoding values', () => {
    const u = parsePkcs11Uri('pkcs11:token=my%20token;object=dev-key;id=%01%a2;type=private;serial=abc?module-path=/usr/lib/x.so&pin-source=file:/run/pin');
    expect(u).toMatchObject({ token: 'my token', object: 'dev-key', type: 'private', serial: 'abc', modulePath: '/usr/lib/x.so', pinSource: 'file:/run/pin' });
    expect([...u.id!]).toEqual([0x01, 0xa2]);
  });

  it('round-trips through formatPkcs11Uri', () => {
    const text = formatPkcs11Uri({ token: 'a;b c', object: 'k/1', id: Uint8Array.of(1, 2), type: 'private' });
    expect(text).toBe('pkcs11:token=a%3bb%20c;object=k%2f1;id=%01%02;type=private');
    expect(parsePkcs11Uri(text)).toMatchObject({ token: 'a;b c', object: 'k/1', type: 'private' });
  });

  it.each([
    ['http://x', 'must start with'],
    ['pkcs11:token=a;token=b', 'appears twice'],
    ['pkcs11:tokn=a', 'unknown path attribute'],
    ['pkcs11:type=secret', '"type" must be one of'],
    ['pkcs11:object=%zz', 'bad percent-escape'],
    ['pkcs11:object', 'without "name=value"'],
  ])('rejects %s with NH_PKCS11_URI_INVALID', (uri, why) => {
    expect(() => parsePkcs11Uri(uri)).toThrow(expect.objectContaining({ code: 'NH_PKCS11_URI_INVALID', message: expect.stringContaining(why) }));
  });

  it('never puts the URI (and its pin-value) into an error, and redacts it for logs', () => {
    let message = '';
    try {
      parsePkcs11Uri('pkcs11:token=a;bogus=1?pin-value=S3cr3t');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('bogus');
    expect(message).not.toContain('S3cr3t');
    expect(parsePkcs11Uri('pkcs11:token=a?pin-value=S3cr3t').pinValue).toBe('S3cr3t');
    expect(redactPkcs11Uri('pkcs11:token=a?pin-value=S3cr3t&module-path=/m')).toBe('pkcs11:token=a?pin-value=***&module-path=/m');
  });
});
