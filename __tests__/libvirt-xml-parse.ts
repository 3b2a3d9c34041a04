/**
 * A small XML reader for the tests that compare our domain XML with what libvirtd stores (`virsh dumpxml`): elements,
 * attributes (either quote), text and the five predefined entities; comments, declarations and whitespace between
 * elements are skipped. Enough for libvirt's output and ours, and no dependency.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  readonly text: string;
}

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const decode = (s: string): string =>
  s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) =>
    e.startsWith("#x")
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith("#")
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITIES[e],
  );

export function parseXml(xml: string): XmlElement {
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at offset ${i}: ${JSON.stringify(xml.slice(i, i + 40))}`);
  };
  const skipMisc = () => {
    for (;;) {
      const rest = xml.slice(i);
      const ws = /^\s+/.exec(rest);
      if (ws) i += ws[0].length;
      else if (rest.startsWith("<!--")) i = xml.indexOf("-->", i) + 3 || fail("unterminated comment");
      else if (rest.startsWith("<?")) i = xml.indexOf("?>", i) + 2 || fail("unterminated declaration");
      else return;
    }
  };
  const element = (): XmlElement => {
    const open = /^<([A-Za-z_][\w:.-]*)/.exec(xml.slice(i)) ?? fail("expected an element");
    const name = open[1];
    i += open[0].length;
    const attrs: Record<string, string> = {};
    for (;;) {
      const a = /^\s+([A-Za-z_][\w:.-]*)\s*=\s*("([^"]*)"|'([^']*)')/.exec(xml.slice(i));
      if (!a) break;
      attrs[a[1]] = decode(a[3] ?? a[4]);
      i += a[0].length;
    }
    const end = /^\s*(\/?)>/.exec(xml.slice(i)) ?? fail(`bad tag <${name}`);
    i += end[0].length;
    if (end[1]) return { name, attrs, children: [], text: "" };
    const children: XmlElement[] = [];
    let text = "";
    for (;;) {
      const lt = xml.indexOf("<", i);
      if (lt < 0) fail(`unclosed <${name}>`);
      text += xml.slice(i, lt);
      i = lt;
      if (xml.startsWith(`</${name}`, i)) {
        i = xml.indexOf(">", i) + 1;
        return { name, attrs, children, text: decode(text).trim() };
      }
      if (xml.startsWith("<!--", i) || xml.startsWith("<?", i)) skipMisc();
      else children.push(element());
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i < xml.length) fail("content after the root element");
  return root;
}

/** Child elements by path (`os/loader`, `devices/hostdev`). */
export function select(e: XmlElement | undefined, path: string): XmlElement[] {
  let found = e ? [e] : [];
  for (const step of path.split("/")) found = found.flatMap((x) => x.children.filter((c) => c.name === step));
  return found;
}
