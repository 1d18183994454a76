/**
 * Editing JSON text without re-encoding all of it: a streamed chunk's masked `content` goes back
 * into the frame the backend sent, instead of a JSON.stringify of the whole chunk per event
 * (exact or nothing: when the edit cannot be placed unambiguously the caller re-encodes the parsed
 * value instead); the fields the edge adds to a request go after the client's, instead of into a
 * copy of its object that is then encoded whole.
 */

/**
 * `raw` with the string value of `key` changed from `from` to `to`; undefined unless `raw` has
 * exactly one `"key": <from>` pair (value encoded as JSON.stringify encodes it) outside string
 * literals. Whitespace after the colon is allowed.
 */
export function replaceStringValue(
  raw: string,
  key: string,
  from: string,
  to: string,
): string | undefined {
  const keyText = `"${key}":`;
  const fromText = JSON.stringify(from);
  let found = -1;
  let valueAt = -1;
  let scanned = 0;
  let inString = false;
  for (let at = raw.indexOf(keyText); at !== -1; at = raw.indexOf(keyText, at + 1)) {
    // Advance the string-literal state from where the last scan stopped up to `at`.
    for (; scanned < at; scanned++) {
      const c = raw.charCodeAt(scanned);
      if (c === 0x5c && inString) scanned++;
      else if (c === 0x22) inString = !inString;
    }
    if (inString || scanned !== at) continue; // inside a string, or `at` was an escaped char
    let v = at + keyText.length;
    while (raw.charCodeAt(v) === 0x20) v++;
    if (!raw.startsWith(fromText, v)) continue;
    if (found !== -1) return undefined;
    found = at;
    valueAt = v;
  }
  if (found === -1) return undefined;
  return raw.slice(0, valueAt) + JSON.stringify(to) + raw.slice(valueAt + fromText.length);
}

/**
 * The JSON text of an object (as JSON.stringify writes it) with `fields` added after its own, in
 * their order; undefined values are left out, as JSON.stringify leaves them out. The object must
 * not hold any of the keys already: JSON does not say which of two equal keys counts.
 */
export function appendFields(objectJson: string, fields: Record<string, unknown>): string {
  let out = objectJson.slice(0, -1);
  let empty = objectJson === '{}';
  for (const key in fields) {
    const value = JSON.stringify(fields[key]);
    if (value === undefined) continue;
    out += `${empty ? '' : ','}${JSON.stringify(key)}:${value}`;
    empty = false;
  }
  return `${out}}`;
}
