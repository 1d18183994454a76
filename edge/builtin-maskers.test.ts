import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../shared/config.ts';
import { builtinMaskers, OPEN_LOCAL, openLocalStart } from './builtin-maskers.ts';
import { ipAddressLength, isIPv6 } from './ip-address.ts';
import { luhnCheckDigit, luhnValid } from './luhn.ts';
import { maskText } from './mask.ts';

const mask = (text: string, kinds?: string[]) => maskText(text, builtinMaskers(kinds)).text;

describe('spelled-out email', () => {
  it('finds the open local part at the end where the OPEN_LOCAL regex does, for any text and tail', () => {
    const piece = fc.constantFrom(
      'a',
      'A',
      't',
      'T',
      'x',
      '1',
      '.',
      '-',
      ' ',
      '[',
      '(',
      '{',
      '<',
      ']',
      '@',
    );
    const text = fc
      .tuple(fc.nat(90), fc.array(piece, { maxLength: 24 }), fc.array(piece, { maxLength: 8 }))
      .map(([run, a, b]) => `${a.join('')}${'b'.repeat(run)}${b.join('')}`);
    fc.assert(
      fc.property(text, fc.nat(120), (t, from) => {
        const tail = Math.min(from, t.length);
        const match = OPEN_LOCAL.exec(t.slice(tail));
        expect(openLocalStart(t, tail)).toBe(match ? tail + match.index : t.length);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ['mail john [at] example [dot] com now', 'mail [REDACTED:email] now'],
    ['write to j.doe(at)mail.example.org.', 'write to [REDACTED:email].'],
    ['<JOHN { AT } EXAMPLE (DOT) IO>', '<[REDACTED:email]>'],
    ['a_b <at> host-1 [dot] co [dot] uk', '[REDACTED:email]'],
  ])('masks %j', (text, want) => expect(mask(text, ['email'])).toBe(want));
  it.each([
    'meet (at) noon',
    'see [at] least three',
    'a [link](https://example.com) here',
    'price at example.com is 3 (dot) 5',
  ])('leaves %j alone', (text) => expect(mask(text, ['email'])).toBe(text));
});

describe('email masker', () => {
  it.each([
    ['write to john.smith+news@example.co.uk today', 'write to [REDACTED:email] today'],
    ['<a_b-c%d@sub.mail-host.io>', '<[REDACTED:email]>'],
    ['mailto:x@y.museum.', 'mailto:[REDACTED:email].'],
  ])('masks %j', (text, want) => expect(mask(text, ['email'])).toBe(want));

  it.each(['user@localhost', 'an @ sign', 'john@example', 'a@b.c'])('leaves %j alone', (text) =>
    expect(mask(text, ['email'])).toBe(text),
  );

  it('masks full-width and zero-width spellings, keeping the text around them', () => {
    expect(mask('ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ。', ['email'])).toBe('[REDACTED:email]。');
    expect(mask('«jo\u200Bhn@exa\u2060mple.com»', ['email'])).toBe('«[REDACTED:email]»');
  });
});

describe('phone masker', () => {
  it.each([
    '+1 555 123 4567',
    '+1 (555) 123-4567',
    '(555) 123-4567',
    '555-123-4567',
    '555.123.4567',
    '1-800-555-1234',
    '+44 20 7946 0958',
    '+49 (0)30 1234567',
    '+4915112345678',
  ])('masks %j', (phone) =>
    expect(mask(`call ${phone} now`, ['phone'])).toBe('call [REDACTED:phone] now'),
  );

  it.each([
    'on 2024-01-15 at 10:30:00',
    'dated 12.05.2023',
    'order 5551234567',
    'isbn 978-3-16-148410-0',
    'ip 192.168.100.200',
    '+1 555 12',
    'version 1.2.3.4.5',
  ])('leaves %j alone', (text) => expect(mask(text, ['phone'])).toBe(text));

  it('masks full-width digits', () => {
    expect(mask('tel ５５５－１２３－４５６７', ['phone'])).toBe('tel [REDACTED:phone]');
  });
});

describe('card masker', () => {
  it.each([
    '4111111111111111',
    '4111 1111 1111 1111',
    '4111-1111-1111-1111',
    '378282246310005',
    '5555 5555 5555 4444',
    '6011 0009 9013 9424',
  ])('masks the Luhn-valid %j', (card) =>
    expect(mask(`pay ${card}.`, ['card'])).toBe('pay [REDACTED:card].'),
  );

  it.each([
    '4111 1111 1111 1112',
    '1700000000000',
    '41111111111111111111111',
    '4111 1111 111',
    '12345678901234',
  ])('leaves %j alone (invalid Luhn, wrong length or issuer)', (text) =>
    expect(mask(text, ['card'])).toBe(text),
  );

  it('still finds the card when more digits follow after a separator', () => {
    expect(mask('4111 1111 1111 1111 2 times', ['card'])).toBe('[REDACTED:card] 2 times');
  });

  it('sees through zero-width characters and full-width digits', () => {
    expect(mask('4111\u200B1111\u200B1111\u200B1111', ['card'])).toBe('[REDACTED:card]');
    expect(mask('４１１１１１１１１１１１１１１１', ['card'])).toBe('[REDACTED:card]');
  });
});

describe('ip masker', () => {
  it.each([
    ['host 192.168.1.10 up', 'host [REDACTED:ip] up'],
    ['IP:10.0.0.1', 'IP:[REDACTED:ip]'],
    ['at 10.0.0.1:8080.', 'at [REDACTED:ip]:8080.'],
    ['v6 2001:db8::8a2e:370:7334 ok', 'v6 [REDACTED:ip] ok'],
    ['lo ::1, link fe80::1.', 'lo [REDACTED:ip], link [REDACTED:ip].'],
    ['mapped ::ffff:192.0.2.1', 'mapped [REDACTED:ip]'],
    ['full 1:2:3:4:5:6:7:8', 'full [REDACTED:ip]'],
  ])('masks %j', (text, want) => expect(mask(text, ['ip'])).toBe(want));

  it.each([
    'version 1.2.3.4.5',
    'release v1.2.3.4',
    'at 12:30:45',
    'mac 00:1A:2B:3C:4D:5E',
    '999.1.1.1',
    'std::vector and a :: b',
    '1.2.3',
  ])('leaves %j alone', (text) => expect(mask(text, ['ip'])).toBe(text));

  it('validates address text', () => {
    expect(isIPv6('1::2::3')).toBe(false);
    expect(isIPv6('::')).toBe(false);
    expect(isIPv6('1:2:3:4:5:6:7')).toBe(false);
    expect(ipAddressLength('10.0.0.1...')).toBe(8);
  });
});

describe('secret masker', () => {
  const keys = {
    openai: 'sk-abcdefghijklmnopqrstuvwxyz012345',
    project: 'sk-proj-Ab3_dEf-GhIjKlMnOpQrStUvWxYz0123456789',
    github: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz',
    githubPat: 'github_pat_11ABCDEFG0123456789_abcdefghijklmnop',
    slack: 'xoxb-1234567890-abcdefghij',
    aws: 'AKIAIOSFODNN7EXAMPLE',
    google: 'AIzaSyA-1234567890abcdefghijklmnopqrstu',
    jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  };
  it.each(Object.entries(keys))('masks a %s key', (_, key) =>
    expect(mask(`key=${key}\n`, ['secret'])).toBe('key=[REDACTED:secret]\n'),
  );

  it('masks the credential after Bearer and keeps the scheme', () => {
    expect(mask('Authorization: Bearer abc123.def456-ghi', ['secret'])).toBe(
      'Authorization: Bearer [REDACTED:secret]',
    );
  });

  it('holds a credential after "Bearer" exactly where the lookbehind pattern says', () => {
    const bearer = builtinMaskers(['secret']).find((m) => m.maxMatchLength === 2048)!;
    const after = /\b[Bb][Ee][Aa][Rr][Ee][Rr][ \t]{1,8}$/;
    const oracle = (text: string) => {
      let start = text.length;
      while (start > 0 && /[A-Za-z0-9._~+/=-]/.test(text[start - 1]!)) start--;
      const before = text.slice(Math.max(0, start - 20), start);
      return start < text.length && after.test(before) ? start : text.length;
    };
    const some = (...options: string[]) =>
      fc.array(fc.constantFrom(...options), { maxLength: 10 }).map((a) => a.join(''));
    const text = fc
      .tuple(
        some('x', '7', ' ', '_', 'é', 'bearer'),
        fc.constantFrom('bearer', 'Bearer', 'BEARER', 'bEaReR', 'bearr', ''),
        some(' ', '\t'),
        some('x', '7', '.', '='),
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, (t) => {
        expect(bearer.holdFrom!(t, 0)).toBe(oracle(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('masks private-key blocks, terminated or cut off', () => {
    const body = 'MIIEpAIBAAKCAQEA1234\nabcdEFGH+/==\n';
    const block = `-----BEGIN RSA PRIVATE KEY-----\n${body}-----END RSA PRIVATE KEY-----`;
    expect(mask(`here:\n${block}\nthanks`, ['secret'])).toBe('here:\n[REDACTED:secret]\nthanks');
    const pkcs8 = `-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----`;
    expect(mask(pkcs8, ['secret'])).toBe('[REDACTED:secret]');
    expect(mask(`-----BEGIN OPENSSH PRIVATE KEY-----\n${body}`, ['secret'])).toBe(
      '[REDACTED:secret]',
    );
  });

  it.each([
    'use bearer authentication here',
    'task-list-for-tomorrow-morning-and-evening',
    'sk-short',
    '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
    'eyJhbGciOiJIUzI1NiJ9 alone',
  ])('leaves %j alone', (text) => expect(mask(text, ['secret'])).toBe(text));

  it('sees through zero-width characters and full-width letters inside a key', () => {
    expect(mask(`k ${keys.aws.slice(0, 8)}\u200B${keys.aws.slice(8)}`, ['secret'])).toBe(
      'k [REDACTED:secret]',
    );
    expect(mask('ｓｋ－abcdefghijklmnopqrstuvwxyz012345', ['secret'])).toBe('[REDACTED:secret]');
  });
});

describe("disguises: other scripts' digits, Unicode dashes and stops, look-alike letters", () => {
  const arabic = (t: string) => t.replace(/\d/g, (d) => String.fromCharCode(0x660 + Number(d)));
  const devanagari = (t: string) => t.replace(/\d/g, (d) => String.fromCharCode(0x966 + Number(d)));
  it.each([
    [arabic('4111 1111 1111 1111'), 'card'],
    [devanagari('4111 1111 1111 1111'), 'card'],
    [arabic('4111-1111-1111-1111').replace(/-/g, '\u2011'), 'card'],
    ['4111\u20131111\u20131111\u20131111', 'card'],
    ['5555\u22124444\u22123333\u22121111', 'card'],
    ['4111\uff0d1111\ufe631111\ufe581111', 'card'],
    [arabic('+44 20 7946 0958'), 'phone'],
    [devanagari('(202) 555-0123').replace('-', '\u2010'), 'phone'],
    ['555\u2012123\u20144567', 'phone'],
    [arabic('192.168.1.23'), 'ip'],
    [devanagari('10.0.0.1'), 'ip'],
    ['192\u3002168\u30021\u300223', 'ip'],
    ['10\uff610\uff610\uff611', 'ip'],
    [arabic('192\u066b168\u066b1\u066b23'), 'ip'],
    ['bob@example\u3002org', 'email'],
    ['bob\ufe6bexample.org', 'email'],
    ['bob@ex\u0430mple.org', 'email'],
    ['\u0430lice@\u0435x\u0430mple.\u043erg', 'email'],
    ['\u0455k-proj-abcdefghijklmnopqrstuvwxyz012345', 'secret'],
    ['\u0410\u041a\u0406\u0410ABCDEFGHIJKLMNOP', 'secret'],
    ['sk\u2011proj\u2011abcdefghijklmnopqrstuvwxyz012345', 'secret'],
  ])('masks %j as %s', (text, kind) =>
    expect(mask(`see ${text} now`)).toBe(`see [REDACTED:${kind}] now`),
  );

  it.each([
    'Привет! Встреча в 10:30 у метро, адрес: ул. Ленина, д. 5, кв. 12. Всё в силе?',
    'Сергей сказал: «Это ее дом», а все остальные молчали — как всегда.',
    'في عام ٢٠٢٦ سيبدأ المشروع، والتاريخ ٢٠٢٦/١١/٢٧، والسعر ١٢٫٥ دينار.',
    'बैठक २७.११.२०२६ को सुबह १०:३० बजे होगी, कुल १२ लोग।',
    '会議は2026年11月27日。参加者は10〜20名です。',
  ])('leaves prose %j alone', (text) => expect(mask(text)).toBe(text));
});

describe('builtinMaskers', () => {
  it('builds all kinds by default and the listed ones on request', () => {
    const kinds = builtinMaskers().map((m) => m.kind);
    expect([...new Set(kinds)]).toEqual(['email', 'phone', 'card', 'ip', 'secret']);
    expect(builtinMaskers(['ip']).map((m) => m.kind)).toEqual(['ip']);
  });

  it('rejects an unknown kind naming it', () => {
    expect(() => builtinMaskers(['ssn'])).toThrow(ConfigError);
    expect(() => builtinMaskers(['ssn'])).toThrow(/ssn/);
  });

  it('reports candidates no longer than maxMatchLength', () => {
    const text = `a@b.io +1 555 123 4567 4111111111111111 10.0.0.1 sk-${'x'.repeat(40)}`;
    for (const m of builtinMaskers())
      for (const s of m.findAll(text))
        expect(s.end - s.start).toBeLessThanOrEqual(m.maxMatchLength);
  });
});

describe('luhn', () => {
  it('accepts known-good numbers and rejects a changed digit', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398714')).toBe(false);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid(`411111111111111${luhnCheckDigit('411111111111111')}`)).toBe(true);
  });
});
