// version.ts: the release and control-protocol versions, reported by --version and the greeting.
export const VERSION = '0.1.0';
/** Bumped only for changes old readers cannot ignore (protocol/control.md §6). */
export const PROTOCOL_VERSION = 1;
