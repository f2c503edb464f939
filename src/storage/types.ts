/**
 * Store interfaces shared by every capability. Implementations live in `sqlite/` and `postgres/`;
 * every method is asynchronous (ADR 0004), the SQLite implementations answer with resolved promises.
 */

/** A sandbox (tenant). `key` identifies this generation of the id; every row of its data carries it. */
export interface Sandbox {
  key: number;
  id: string;
  name: string;
  /** `/{id}/open` serves reads without a token. */
  openRead: boolean;
  /** `/{id}/open` also accepts writes (only meaningful with openRead). */
  openWrite: boolean;
  /** HSPC's legacy tokenless launch registration (docs/architecture.md §5). */
  openRegistration: boolean;
  createdAt: number;
}

export interface SandboxChanges {
  name?: string;
  openRead?: boolean;
  openWrite?: boolean;
  openRegistration?: boolean;
}

export interface TenantStore {
  /** The live sandbox with this id, or undefined. */
  get(id: string): Promise<Sandbox | undefined>;
  /** Any generation by key, live or not (for checking that a token's tenant is still live). */
  isLive(key: number): Promise<boolean>;
  list(): Promise<Sandbox[]>;
  create(id: string, opts?: SandboxChanges): Promise<Sandbox>;
  update(id: string, changes: SandboxChanges): Promise<Sandbox>;
  /** Marks the sandbox deleted; its data is purged by the capability stores' `purgeTenant`. */
  delete(id: string): Promise<Sandbox>;
  getSetting(name: string): Promise<string | undefined>;
  setSetting(name: string, value: string): Promise<void>;
}

/** Sandbox id grammar and reserved names (docs/architecture.md §3, contract). */
export const SANDBOX_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const RESERVED_SANDBOX_IDS = new Set(['api', 'apps', 'healthz', 'static', 'assets', 'console', 'auth', 'well-known']);

export function sandboxIdProblem(id: string): string | undefined {
  if (!SANDBOX_ID.test(id)) return `sandbox id "${id}" must match ${SANDBOX_ID.source}`;
  if (RESERVED_SANDBOX_IDS.has(id)) return `sandbox id "${id}" is reserved`;
  return undefined;
}
