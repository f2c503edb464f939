/**
 * Drops oidc-provider's import-time "Unsupported runtime" warning; see ./oidc-provider.ts, the only
 * module that may import this one, and only as its first import.
 *
 * oidc-provider 9 (lib/index.js) prints
 *   oidc-provider WARNING: Unsupported runtime. Use Node.js v22.x LTS, or a later LTS release.
 * through console.warn while its module is evaluated, whenever `process.release.lts` is missing or
 * sorts before 'Jod' (Node 22). It has no option or environment variable to turn that off. It fires
 * on runtimes this project supports and tests: Node 20.19+ ('Iron', package.json engines) and a new
 * even line before it turns LTS (Node 26 builds without an LTS name). Printed on every start and every
 * CLI command, it tells users their setup is wrong when it is not, so we filter that one line, and
 * nothing else, only while oidc-provider is being imported: this module replaces console.warn when it
 * is evaluated (just before oidc-provider), and ./oidc-provider.ts puts the original back right after.
 * On a runtime older than the ones we support the warning is left as it is.
 */
const original = console.warn;
const SUPPORTED_MAJOR = 20;
// On a terminal the line is wrapped in colour codes, hence a substring test.
const RUNTIME_WARNING = 'oidc-provider WARNING: Unsupported runtime.';

if (Number(process.versions.node.split('.')[0]) >= SUPPORTED_MAJOR) {
  console.warn = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === 'string' && args[0].includes(RUNTIME_WARNING)) return;
    original(...args);
  };
}

/** Puts back the console.warn in place before oidc-provider was imported. */
export function restoreConsoleWarn(): void {
  console.warn = original;
}
