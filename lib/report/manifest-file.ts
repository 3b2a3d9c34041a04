/**
 * The manifest's file name and format version, in a module of their own: `gpu-passthrough report` reads manifests
 * without loading the code that writes them (cdktf, the constructs).
 */
export const MANIFEST_FILE = "passthrough.json";
export const MANIFEST_VERSION = 1;
