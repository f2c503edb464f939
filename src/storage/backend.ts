/**
 * A storage backend: every store of the system over one database (docs/architecture.md §7). `openBackend`
 * picks SQLite (`--data-dir`) or PostgreSQL (`--database-url`); both run their versioned migrations
 * on open, under a lock, so several processes may start at once.
 */
import type { BulkJobStore } from '../bulk/store.js';
import type { ClientStore, PersonaStore } from '../auth/types.js';
import type { ScenarioStore } from '../console/scenarios.js';
import type { FhirDirectory } from '../fhir/directory.js';
import type { ResourceStore } from '../fhir/store.js';
import type { AuditLog } from '../launch/audit.js';
import type { LaunchStore } from '../launch/model.js';
import type { AuthKeyStore, OidcPayloadStore, SmartContextStore } from './auth-stores.js';
import type { TenantStore } from './types.js';

export interface StorageBackend {
  readonly kind: 'sqlite' | 'postgres';
  tenants: TenantStore;
  launches: LaunchStore;
  resources: ResourceStore;
  audit: AuditLog;
  scenarios: ScenarioStore;
  oidc: OidcPayloadStore;
  contexts: SmartContextStore;
  keys: AuthKeyStore;
  clients: ClientStore;
  /** Bulk Data export jobs (the output files are on the local disk, under the data directory). */
  bulkJobs: BulkJobStore;
  /** Personas check that their FHIR resource exists, through the FHIR capability. */
  personas(fhir: FhirDirectory): PersonaStore;
  /** Resolves when the database answers (health checks). */
  ping(): Promise<void>;
  /** Figures for `/readyz` beyond "the database answers" (SQLite: the WAL's size and bound). */
  health?(): Record<string, unknown>;
  close(): Promise<void>;
}

/**
 * The database is unreachable (connection refused or lost, server shutting down): requests answer
 * 503 OperationOutcome / OAuth `temporarily_unavailable` and the node recovers by itself.
 */
export class DatabaseUnavailable extends Error {
  constructor(cause: unknown) {
    super(`the database is unavailable: ${(cause as Error)?.message ?? cause}`);
    this.cause = cause;
  }
}

/**
 * A read query ran past its time budget (`SMART_SANDBOX_QUERY_BUDGET_MS`) and was abandoned, so that
 * no single request holds the server. `busy`: it never started, because every read connection was
 * taken by queries still finishing past their own budgets.
 */
export class QueryBudgetExceeded extends Error {
  constructor(
    readonly budgetMs: number,
    readonly busy = false,
  ) {
    super(busy ? `the server is busy with costly queries; no read connection freed up within ${budgetMs} ms, retry shortly` : `the query took longer than its ${budgetMs} ms budget`);
  }
}
