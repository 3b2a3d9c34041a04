/** Tests run the TypeScript sources through ts-jest; `npm test` builds dist/ first for the tests that run the app. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.tsx?$": ["ts-jest", { tsconfig: "tsconfig.test.json" }] },
  setupFilesAfterEnv: ["<rootDir>/setup.js"],
};
