/**
 * Editing one string value inside JSON text without re-encoding the rest: a streamed chunk's
 * masked `content` goes back into the frame the backend sent, instead of a JSON.stringify of the
 * whole chunk per event. Exact or nothing: when the edit cannot be placed unambiguously the
 * caller re-encodes the parsed value instead.
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
