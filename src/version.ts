/** The kcore release this build is. */
export const KCORE_VERSION = "0.1.0";
