// cdktf's jest matchers (toHaveResourceWithProperties, ...).
require("cdktf").Testing.setupJest();

// Each test file's temp directories (tempDir(), cdktf's Testing.app() outdirs) are removed when the file finishes.
const temp = require("./__tests__/temp");
temp.cleanUpCdktfTestingOutdirs();
afterAll(temp.removeTempDirs);
