/**
 * Where the FHIR layer reads the launch audit trail from, to serve it as R4 `AuditEvent` (issue #5).
 * Declared here, not imported from src/launch, because src/launch depends on src/fhir: the launch
 * capability's `AuditLog` (SqliteAuditLog) satisfies this interface structurally and is passed to
 * `registerFhirRoutes` by the app.
 */
export interface AuditSourceRecord {
  seq: number;
  recordedAt: number;
  action: 'register' | 'revoke' | 'authorize' | 'token';
  outcome: 'success' | 'failure';
  clientId?: string;
  username?: string;
  patient?: string;
  /** SHA-256 of the launch id (the id itself is never stored). */
  launchHash?: string;
  detail?: string;
}

export interface AuditSourceQuery {
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  clientId?: string;
  patient?: string;
  outcome?: 'success' | 'failure';
  launchHash?: string;
  /** Only records with a smaller sequence number (paging; results come newest first). */
  beforeSeq?: number;
  limit?: number;
}

export interface AuditEventSource {
  /** Records of one sandbox, newest first. */
  query(sandboxKey: number, q: AuditSourceQuery): Promise<AuditSourceRecord[]>;
  get(sandboxKey: number, seq: number): Promise<AuditSourceRecord | undefined>;
}
