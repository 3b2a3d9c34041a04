/**
 * Characters that make text lie when it is printed, written into a script or read by a reviewer: C0 controls, DEL,
 * C1 controls (CSI among them), bidirectional marks, embeddings, overrides and isolates, the Unicode line and
 * paragraph separators, and the byte-order mark. One definition for the name rules, the problem lists, script
 * comments, output paths and preflight's view of sysfs.
 */
export function isUnsafeCodePoint(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069) ||
    code === 0xfeff
  );
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = { "\t": "\\t", "\n": "\\n", "\r": "\\r" };

function escapeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (!isUnsafeCodePoint(code)) return c;
  if (code <= 0xff) return NAMED_ESCAPES[c] ?? `\\x${code.toString(16).padStart(2, "0")}`;
  return `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every unsafe character shown as an escape (`\x1b`, `\n`, `\u202e`), so that it cannot repaint a
 * terminal or forge a line. Backslashes stay as they are. Longer than `maxChars` after escaping: cut, ending in `…`.
 */
export function escapeUnsafe(text: string, maxChars = Infinity): string {
  const pieces: string[] = [];
  let length = 0;
  const chars = [...text];
  for (let i = 0; i < chars.length; i++) {
    const piece = escapeChar(chars[i]);
    // The ellipsis takes one character: stop where the rest would not fit with it.
    const last = i === chars.length - 1;
    if (length + piece.length > (last ? maxChars : maxChars - 1)) {
      pieces.push("…");
      break;
    }
    pieces.push(piece);
    length += piece.length;
  }
  return pieces.join("");
}

/**
 * Orders strings by UTF-16 code units: the same on every machine, whatever its locale (`localeCompare` follows the
 * locale, and its first call costs ICU's collator setup, about 10 ms). The GPU allocation and every listing use it.
 */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
