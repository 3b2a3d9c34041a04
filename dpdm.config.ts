/**
 * `npm run cycles` (part of `npm run lint`): no import cycles among the modules of the app and the library. Type-only
 * imports count too: a cycle of types still ties its modules into one unit to read, test and change.
 * TypeScript because dpdm 4.3.0 fails to load a JavaScript config (it requires a file: URL).
 */
import { sep } from "path";

const root = __dirname.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + (sep === "\\" ? "\\\\" : sep);

export default {
  files: ["main.ts", "lib/**/*.ts", "stacks/**/*.ts"],
  // Only our sources: not node_modules, nor the compiled provider bindings (dist/.gen), whose imports are generated.
  include: new RegExp(`^${root}(?:lib|stacks)[\\\\/]|^${root}main\\.ts$`),
  exclude: /node_modules/,
  tree: false,
  warning: false,
  circular: true,
  progress: false,
  exitCode: "circular:1",
};
