/**
 * Makes the nested-block classes of compiled provider bindings lazy: each `class X extends cdktf.ComplexObject` (or
 * ComplexList) is defined the first time it is used, instead of when its module loads. The libvirt domain alone has
 * 1,453 of them (every element of libvirt's domain XML), and a program uses a few dozen: defining them all cost
 * 40 ms of every start from the app's startup snapshot (their prototypes, 30,000 accessor pairs and their closures
 * are heap objects to deserialize), and more when loaded as plain JavaScript.
 *
 * What users see is unchanged: `exports.X` is the same class every time (a getter over a cache), with its name, its
 * prototype chain and `instanceof`; the declarations (.d.ts) are untouched. The rewrite is textual over tsc's output,
 * whose shape it checks: a class it cannot rewrite whole stops the build with the file and class named.
 *
 * Plain JavaScript: scripts/provider-bindings.js runs it before anything is compiled.
 */
"use strict";

const LAZY_BASES = new Set(["cdktf.ComplexObject", "cdktf.ComplexList", "cdktf.ComplexMap"]);
const HEADER = /^class ([A-Za-z_$][\w$]*) extends ([\w$.]+) \{$/;

/** `text` (one compiled CommonJS module) with its nested-block classes made lazy; `file` names it in errors. */
function lazyClasses(text, file) {
  const lines = text.split("\n");
  const out = [];
  const lazy = [];
  for (let i = 0; i < lines.length; i++) {
    const m = HEADER.exec(lines[i]);
    if (!m || !LAZY_BASES.has(m[2])) {
      out.push(lines[i]);
      continue;
    }
    const name = m[1];
    const end = lines.indexOf("}", i + 1);
    if (end < 0 || lines[end + 1] !== `exports.${name} = ${name};`) {
      throw new Error(`${file}: class ${name} does not end with "}" and "exports.${name} = ${name};" as tsc writes it`);
    }
    const factory = `${name}$lazy`;
    out.push(
      `var ${factory}$class;`,
      `function ${factory}() {`,
      `  return ${factory}$class || (${factory}$class = class ${name} extends ${m[2]} {`,
      ...lines.slice(i + 1, end),
      "});",
      "}",
      `Object.defineProperty(exports, "${name}", { enumerable: true, configurable: true, get: ${factory} });`,
    );
    lazy.push(name);
    i = end + 1;
  }
  if (!lazy.length) return text;
  // Every other mention of a lazy class in this module (`new X(...)` in another class's members) asks its factory;
  // `exports.X` and `other_module.X` are property reads, which the getters serve.
  const names = new Set(lazy);
  const mention = /(?<![\w$."'])([A-Za-z_$][\w$]*)(?![\w$])/g;
  return out
    .map((line) => {
      if (line.startsWith("  return ") && line.includes("$lazy$class = class ")) return line;
      return line.replace(mention, (word) => (names.has(word) ? `(${word}$lazy())` : word));
    })
    .join("\n");
}

module.exports = { lazyClasses };
