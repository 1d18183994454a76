import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../shared/config.ts';
import { luhnCheckDigit } from './luhn.ts';
import { builtinMaskers, type Masker, maskText, regexMasker, StreamMasker } from './mask.ts';

// ---- generators -------------------------------------------------------------------------------
const chars = (alphabet: string, min: number, max: number) =>
  fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => a.join(''));
const DIGITS = '0123456789';
const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const HEX = '0123456789abcdef';

const email = fc
  .tuple(
    chars('abcxyz._+-09', 1, 12),
    chars('abcdef-', 1, 8),
    fc.constantFrom('com', 'io', 'co.uk'),
  )
  .map(([local, domain, tld]) => `${local}@${domain}.${tld}`);
const spelledEmail = fc
  .tuple(
    chars('abcxyz._+-09', 1, 12),
    chars('abcdef-', 1, 8),
    fc.constantFrom('com', 'io', 'co.uk'),
    fc.constantFrom('[at]', ' [at] ', '(at)', ' (AT) ', '{ at }', '<at>', ' [ at ] '),
    fc.constantFrom('.', ' [dot] ', '(dot)', ' (DOT) '),
  )
  .map(([local, domain, tld, at, dot]) => `${local}${at}${domain}${dot}${tld.replace('.', dot)}`);
const phone = fc.oneof(
  chars(DIGITS, 10, 10).map((d) => `(${d.slice(0, 3)}) ${d.slice(3, 6)}-${d.slice(6)}`),
  chars(DIGITS, 10, 10).map((d) => `+1 ${d.slice(0, 3)} ${d.slice(3, 6)} ${d.slice(6)}`),
  chars(DIGITS, 10, 10).map((d) => `+44 ${d.slice(0, 2)} ${d.slice(2, 6)} ${d.slice(6)}`),
);
const card = fc
  .tuple(
    fc.constantFrom('4', '5', '37', '6011'),
    chars(DIGITS, 18, 18),
    fc.integer({ min: 13, max: 19 }),
    fc.constantFrom('', ' ', '-'),
  )
  .map(([issuer, rest, length, sep]) => {
    const body = (issuer + rest).slice(0, length - 1);
    const digits = body + luhnCheckDigit(body);
    return digits.match(/.{1,4}/g)!.join(sep);
  });
const octet = fc.integer({ min: 0, max: 255 }).map(String);
const ip = fc.oneof(
  fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')),
  fc.array(chars(HEX, 1, 4), { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  fc.tuple(chars(HEX, 1, 4), chars(HEX, 1, 4)).map(([a, b]) => `fe80::${a}:${b}`),
);
const jwtPart = chars(`${ALNUM}_-`, 10, 30);
const secret = fc.oneof(
  chars(ALNUM, 20, 40).map((k) => `sk-proj-${k}`),
  chars(ALNUM, 36, 36).map((k) => `ghp_${k}`),
  chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16, 16).map((k) => `AKIA${k}`),
  chars(`${ALNUM}_-`, 35, 35).map((k) => `AIza${k}`),
  chars(`${ALNUM}-`, 10, 20).map((k) => `xoxb-${k}`),
  fc.tuple(jwtPart, jwtPart, jwtPart).map(([h, p, s]) => `eyJ${h}.eyJ${p}.${s}`),
  chars(ALNUM, 12, 24).map((t) => `Bearer 7${t}`),
  chars(`${ALNUM}+/`, 20, 120).map(
    (b) => `-----BEGIN EC PRIVATE KEY-----\n${b}\n-----END EC PRIVATE KEY-----`,
  ),
);
const sensitive = fc.oneof(email, spelledEmail, phone, card, ip, secret);
const filler = fc.oneof(
  fc.constantFrom(
    'hello',
    'the quick brown fox',
    'version 1.2.3.4.5',
    'on 2024-01-15 at 12:30:45',
    'bearer authentication',
    'ｆｕｌｌ ｗｉｄｔｈ',
    'naïve café',
    '😀 ok',
    'a@b',
    '-----BEGIN',
    'sk-',
    '4111',
    '+1',
    '\u200B',
    'Встреча в 10:30, всё в силе.',
    'в ٢٠٢٦ году',
    'दिनांक २७.११.२०२६',
    '会議は11月27日。10〜20名',
    '١٢٫٥',
  ),
  fc.string({ maxLength: 8 }),
);
const SEPARATORS = [', ', '\n', '; ', ' and ', ' (', ') ', '. '];

const DASHES = '\u2010\u2011\u2012\u2013\u2014\u2212\ufe58\ufe63\uff0d';
const LOOK_ALIKE: Record<string, string> = Object.fromEntries(
  [...'aceopxysiABEHKMOPCTX'].map((c, i) => [c, 'асеорхуѕіАВЕНКМОРСТХ'[i]!]),
);
const scriptDigits = (zero: number) => (text: string) =>
  text.replace(/\d/g, (d) => String.fromCodePoint(zero + Number(d)));
const unicodeSeparators = (text: string) => {
  let k = 0;
  return text
    .replace(/-/g, () => DASHES[k++ % DASHES.length]!)
    .replace(/\./g, () => (k++ % 2 ? '\u3002' : '\uff61'))
    .replace(/@/g, '\ufe6b');
};
const lookAlikes = (text: string) => text.replace(/[!-~]/g, (c) => LOOK_ALIKE[c] ?? c);

/** How an evasive writer disguises an item: index 0 leaves it as it is. */
const DISGUISES: ((text: string) => string)[] = [
  (text) => text,
  (text) => text.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)),
  (text) => text.replace(/(.{3})/gu, '$1\u200B'),
  scriptDigits(0x660), // Arabic-Indic
  scriptDigits(0x966), // Devanagari
  unicodeSeparators,
  lookAlikes,
  (text) => lookAlikes(unicodeSeparators(scriptDigits(0x6f0)(text))),
];
/** Past the last disguise: plain, so undisguised items stay common. */
const disguise = (text: string, how: number) => (DISGUISES[how] ?? DISGUISES[0]!)(text);

interface Doc {
  text: string;
  items: string[];
}
const doc: fc.Arbitrary<Doc> = fc
  .array(
    fc.tuple(
      fc.oneof(sensitive, filler),
      fc.boolean(),
      fc.integer({ min: 0, max: DISGUISES.length + 2 }),
    ),
    {
      minLength: 1,
      maxLength: 8,
    },
  )
  .chain((parts) =>
    fc.constantFrom(...SEPARATORS).map((sep) => {
      const items: string[] = [];
      const text = parts
        .map(([part, isItem, how]) => {
          const shown = isItem ? disguise(part, how) : part;
          if (isItem) items.push(shown);
          return shown;
        })
        .join(sep);
      return { text, items };
    }),
  );
const sensitiveDoc: fc.Arbitrary<Doc> = fc
  .array(fc.tuple(sensitive, fc.integer({ min: 0, max: DISGUISES.length - 1 })), {
    minLength: 1,
    maxLength: 5,
  })
  .chain((parts) =>
    fc.constantFrom(', ', '\n', '; ', ' and ').map((sep) => {
      const items = parts.map(([p, how]) => disguise(p, how));
      return { text: `x ${items.join(sep)} y`, items };
    }),
  );

// ---- helpers ----------------------------------------------------------------------------------
function streamed(text: string, cuts: number[], maskers: Masker[]) {
  const masker = new StreamMasker(maskers);
  let out = '';
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    out += masker.push(text.slice(at, cut));
    at = cut;
  }
  return { text: out + masker.end(), counts: masker.counts };
}

const maskers = builtinMaskers();
const maxHold = Math.max(...maskers.map((m) => m.maxMatchLength));

// ---- maskText ---------------------------------------------------------------------------------
describe('maskText', () => {
  it('replaces each span with its kind and counts them', () => {
    const r = maskText('a john@x.io b 10.0.0.1 c jane@y.io', maskers);
    expect(r.text).toBe('a [REDACTED:email] b [REDACTED:ip] c [REDACTED:email]');
    expect(r.counts).toEqual({ email: 2, ip: 1 });
  });

  it('lets the earliest start win, then the longest', () => {
    const short: Masker = {
      kind: 'short',
      maxMatchLength: 9,
      findAll: () => [{ start: 2, end: 4 }],
    };
    const long: Masker = { kind: 'long', maxMatchLength: 9, findAll: () => [{ start: 2, end: 6 }] };
    const early: Masker = {
      kind: 'early',
      maxMatchLength: 9,
      findAll: () => [{ start: 1, end: 3 }],
    };
    expect(maskText('0123456789', [short, long]).text).toBe('01[REDACTED:long]6789');
    expect(maskText('0123456789', [short, long, early]).text).toBe('0[REDACTED:early]3456789');
  });

  it('keeps the characters it did not mask exactly as written', () => {
    const text = 'Ｈｉ naïve\u200B café 😀 — mail ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ ok';
    expect(maskText(text, maskers).text).toBe(
      'Ｈｉ naïve\u200B café 😀 — mail [REDACTED:email] ok',
    );
  });

  it('masks every generated e-mail, phone, card, IP and key amid filler', () => {
    fc.assert(
      fc.property(sensitiveDoc, ({ text, items }) => {
        const { text: out, counts } = maskText(text, maskers);
        for (const item of items) expect(out).not.toContain(item);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThanOrEqual(items.length);
      }),
      { numRuns: 300 },
    );
  });
});

// ---- regexMasker ------------------------------------------------------------------------------
describe('regexMasker', () => {
  it('masks what the configured pattern matches under its kind', () => {
    const ssn = regexMasker({ kind: 'ssn', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b', maxLength: 11 });
    expect(maskText('ssn 123-45-6789.', [ssn])).toEqual({
      text: 'ssn [REDACTED:ssn].',
      counts: { ssn: 1 },
    });
  });

  it('applies flags and matches folded text', () => {
    const code = regexMasker({
      kind: 'project',
      pattern: 'apollo-\\d+',
      flags: 'i',
      maxLength: 20,
    });
    expect(maskText('see APOLLO-７７ now', [code]).text).toBe('see [REDACTED:project] now');
  });

  it.each([
    [{ kind: 'x', pattern: '(unclosed', maxLength: 5 }, /masker 'x'.*\(unclosed/],
    [{ kind: 'x', pattern: 'a*', maxLength: 5 }, /matches empty/],
    [{ kind: 'x', pattern: 'a', flags: 'g', maxLength: 5 }, /flags/],
    [{ kind: 'x', pattern: 'a', maxLength: 0 }, /maxLength/],
    [{ kind: 'bad kind!', pattern: 'a', maxLength: 5 }, /kind/],
  ])('rejects a bad spec %j with a ConfigError naming it', (spec, message) => {
    expect(() => regexMasker(spec)).toThrow(ConfigError);
    expect(() => regexMasker(spec)).toThrow(message);
  });
});

// ---- StreamMasker -----------------------------------------------------------------------------
describe('StreamMasker', () => {
  it('agrees with maskText at every split point of generated texts', () => {
    fc.assert(
      fc.property(doc, ({ text }) => {
        const whole = maskText(text, maskers);
        for (let cut = 0; cut <= text.length; cut++) {
          const got = streamed(text, [cut], maskers);
          if (got.text !== whole.text)
            expect({ cut, text: got.text }).toEqual({ cut, text: whole.text });
        }
      }),
      { numRuns: 80 },
    );
  });

  it('agrees with maskText for random multi-splits, counts included', () => {
    const split = doc.chain(({ text }) =>
      fc
        .array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 })
        .map((cuts) => ({ text, cuts: cuts.sort((a, b) => a - b) })),
    );
    fc.assert(
      fc.property(split, ({ text, cuts }) => {
        expect(streamed(text, cuts, maskers)).toEqual(maskText(text, maskers));
      }),
      { numRuns: 400 },
    );
  });

  it('agrees with maskText where addresses touch hex runs, colons and dots (ip holds)', () => {
    // No separators: addresses right after a hash, a word, a colon or a dot, runs past 46.
    const piece = fc.oneof(
      ip,
      chars(HEX, 1, 70),
      fc.constantFrom(':', '::', '.', ' ', 'x', 'IP:', 'sha:', '_'),
    );
    const split = fc.array(piece, { minLength: 1, maxLength: 8 }).chain((pieces) => {
      const text = pieces.join('');
      return fc
        .array(fc.integer({ min: 0, max: text.length }), { maxLength: 10 })
        .map((cuts) => ({ text, cuts: cuts.sort((a, b) => a - b) }));
    });
    const ipOnly = builtinMaskers(['ip']);
    fc.assert(
      fc.property(split, ({ text, cuts }) => {
        expect(streamed(text, cuts, ipOnly)).toEqual(maskText(text, ipOnly));
        expect(streamed(text, cuts, maskers)).toEqual(maskText(text, maskers));
      }),
      { numRuns: 600 },
    );
  });

  it('does not hold back a hex run no address can start in', () => {
    const ipOnly = builtinMaskers(['ip']);
    const run = (prefix: string, piece: string, pieces: number) => {
      const masker = new StreamMasker(ipOnly);
      let out = masker.push(prefix);
      for (let i = 0; i < pieces; i++) out += masker.push(piece);
      return { out, held: masker.heldChars };
    };
    // A hash: past 46 characters from its start, no address can end where the text ends.
    expect(run('sha256 ', 'abcd', 12)).toEqual({ out: `sha256 ${'abcd'.repeat(12)}`, held: 0 });
    expect(run('sha256 ', 'abcd', 11).held).toBe(44);
    // After a letter, no address starts at all (the pattern's lookbehind).
    expect(run('x', 'abcd', 3)).toEqual({ out: `x${'abcd'.repeat(3)}`, held: 0 });
    // After a colon inside the run, one may: "…:fe80" could still become "…:fe80::1".
    expect(run('ok abcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcdabcd:', 'fe80', 1).held).toBe(4);
  });

  it('agrees with maskText over long texts, where it forgets what it emitted', () => {
    const long = fc.array(doc, { minLength: 20, maxLength: 40 }).chain((docs) => {
      const text = docs.map((d) => d.text).join('\n');
      return fc
        .array(fc.integer({ min: 0, max: text.length }), { minLength: 10, maxLength: 200 })
        .map((cuts) => ({ text, cuts: cuts.sort((a, b) => a - b) }));
    });
    fc.assert(
      fc.property(long, ({ text, cuts }) => {
        expect(streamed(text, cuts, maskers)).toEqual(maskText(text, maskers));
      }),
      { numRuns: 40 },
    );
  });

  it('agrees with maskText character by character, for each masker alone (masker contract)', () => {
    const all = [
      ...maskers,
      regexMasker({ kind: 'ticket', pattern: 'TCK-\\d{3,6}', maxLength: 10 }),
    ];
    fc.assert(
      fc.property(doc, fc.integer({ min: 0, max: all.length - 1 }), ({ text }, i) => {
        const one = [all[i]!];
        const spans = one[0]!.findAll(text);
        const starts = one[0]!.starts;
        for (const s of spans) {
          expect(0 <= s.start && s.start < s.end && s.end <= text.length).toBe(true);
          expect(s.end - s.start).toBeLessThanOrEqual(one[0]!.maxMatchLength);
          // A declared start class is a promise the stream skips maskers on.
          if (starts) expect(starts[text.charCodeAt(s.start)]).toBe(1);
        }
        const cuts = Array.from({ length: text.length }, (_, k) => k);
        expect(streamed(text, cuts, one).text).toBe(maskText(text, one).text);
      }),
      { numRuns: 150 },
    );
  });

  it('emits plain words at once and holds back only a word that could still grow', () => {
    const s = new StreamMasker(maskers);
    // "fox " could still become "fox [at] example [dot] com": the last word waits for the next one.
    expect(s.push('The quick brown fox ')).toBe('The quick brown ');
    expect(s.heldChars).toBe(4);
    expect(s.push('jumps')).toBe('fox ');
    expect(s.push(' over, ')).toBe('jumps over, ');
    expect(s.heldChars).toBe(0);
    expect(s.end()).toBe('');
  });

  it('masks spelled-out addresses across chunks and lets bracketed words that are not go', () => {
    const s = new StreamMasker(maskers);
    let out = '';
    for (const c of 'mail john.doe [at] example [dot] co [dot] uk, or see (at) noon. ')
      out += s.push(c);
    expect(out + s.end()).toBe('mail [REDACTED:email], or see (at) noon. ');
  });

  it('holds a growing e-mail domain, card or key until it is decided', () => {
    const s = new StreamMasker(maskers);
    expect(s.push('mail a@b.co')).toBe('mail ');
    expect(s.push('m.au')).toBe('');
    expect(s.push(' and pay 4111 1111')).toBe('[REDACTED:email] and pay ');
    expect(s.push(' 1111 1111')).toBe('');
    expect(s.push('\nkey: sk-')).toBe('[REDACTED:card]\nkey: ');
    expect(s.push('abcdefghijklmnopqrstuvwxyz')).toBe('');
    expect(s.end()).toBe('[REDACTED:secret]');
    expect(s.counts).toEqual({ email: 1, card: 1, secret: 1 });
  });

  it('holds a private-key block until its END line', () => {
    const s = new StreamMasker(maskers);
    let out = s.push('key:\n-----BEGIN RSA PRI');
    expect(out).toBe('key:\n');
    for (const c of 'VATE KEY-----\nMIIEpAIBAAKCAQEA\nabcd+/==') out += s.push(c);
    expect(out).toBe('key:\n');
    out += s.push('\n-----END RSA PRIVATE KEY-----\nbye! ');
    expect(out).toContain('[REDACTED:secret]\nbye! ');
    expect(out + s.end()).not.toContain('MIIE');
  });

  it('never holds back more than the longest match a masker declares', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(sensitive, filler, chars(ALNUM, 50, 400)), { maxLength: 40 }),
        (chunks) => {
          const s = new StreamMasker(maskers);
          for (const chunk of chunks) {
            s.push(chunk);
            expect(s.heldChars).toBeLessThanOrEqual(maxHold + 1);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('skips a masker whose start characters have not arrived, and catches up once they do', () => {
    // The card masker starts only at digits: letters go straight through it, a digit wakes it.
    const card = builtinMaskers(['card']);
    expect(card[0]!.starts).toBeDefined();
    const s = new StreamMasker(card);
    expect(s.push('pay with ')).toBe('pay with ');
    expect(s.push('4111 1111 1111 111')).toBe('');
    expect(s.push('1 today')).toBe('[REDACTED:card] today');
  });

  it('releases a long run of key-like characters that no pattern can still match', () => {
    const s = new StreamMasker(maskers);
    s.push(`blob ${'QUJD'.repeat(2000)}`);
    expect(s.heldChars).toBeLessThanOrEqual(64);
  });

  it('keeps surrogate pairs whole across chunk boundaries', () => {
    const s = new StreamMasker(maskers);
    const emoji = '😀';
    expect(s.push(`ok! ${emoji[0]}`)).toBe('ok! ');
    expect(s.push(`${emoji[1]} fine! `)).toBe(`${emoji} fine! `);
  });
});
