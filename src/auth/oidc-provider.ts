/**
 * The project's only import of oidc-provider's runtime code: import Provider, errors and
 * interactionPolicy from here, never from 'oidc-provider' directly (type-only imports are fine).
 * The first import installs a filter for the library's import-time "Unsupported runtime" line (why:
 * ./oidc-runtime-check.ts); ES modules evaluate their imports in order, so the filter is in place
 * when oidc-provider's module runs, and this module's body, evaluated after both, removes it.
 */
import { restoreConsoleWarn } from './oidc-runtime-check.js';
import Provider, { errors, interactionPolicy } from 'oidc-provider';

restoreConsoleWarn();

export default Provider;
export { errors, interactionPolicy, Provider };
