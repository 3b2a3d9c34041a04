/** Tests run the TypeScript sources through ts-jest; `npm test` builds dist/ first for the tests that run the app. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.tsx?$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  // Provider bindings exist only compiled (dist/.gen, made by scripts/provider-bindings.js): sources import them
  // by a path that tsc's rootDirs resolves to dist/.gen; jest needs the same redirection.
  moduleNameMapper: { "^(?:\\.\\./)+\\.gen/providers/(.*)$": "<rootDir>/dist/.gen/providers/$1" },
  setupFilesAfterEnv: ["<rootDir>/setup.js"],
};
