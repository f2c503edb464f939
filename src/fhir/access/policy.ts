/**
 * What one request may do, derived from its RequestAccess (docs/architecture.md §6, fail closed). The
 * repository asks `constraint(type, op)` before every interaction and receives either `all` or a
 * list of alternatives, each confined to a patient compartment and/or a scope's search restriction;
 * the data path turns those into SQL or checks (a resource is accessible when one alternative holds).
 */
import { forbidden, insufficientScope } from '../../errors/errors.js';
import { inPatientCompartment } from '../definitions.js';
import type { MemberView } from './group-subset.js';
import type { RequestAccess, TokenGrant } from './types.js';
import { type Perm, type ResourceScope, resourceScopes } from '../../smart/scopes.js';

export interface Alternative {
  /** Confined to this patient's compartment. */
  patient?: string;
  /** Must match this scope restriction (search parameters of the same type). */
  query?: URLSearchParams;
}

export type Constraint = 'all' | Alternative[];

const OP_NAMES: Record<Perm, string> = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' };

/** Internal, privileged callers (seeding, pickers, the CLI). */
export type PolicySource = RequestAccess | { kind: 'privileged' };

export class AccessPolicy {
  private readonly rules: ResourceScope[];
  private readonly grant?: TokenGrant;
  private readonly cache = new Map<string, Constraint | Error>();

  constructor(readonly source: PolicySource) {
    if (source.kind === 'token') {
      this.grant = source.grant;
      // The one SMART scope grammar (src/smart/scopes.ts): read exactly as the authorization server granted it.
      this.rules = resourceScopes(source.grant.scope);
    } else {
      this.rules = [];
    }
  }

  /** The patient a Patient persona (`fhirUser` = Patient/x) is confined to under user/ scopes. */
  private personaPatient(): string | undefined {
    const fu = this.grant?.fhirUser;
    return fu?.startsWith('Patient/') ? fu.slice('Patient/'.length) : undefined;
  }

  /** The constraint for `op` on `type`; throws 403 when nothing grants it. */
  constraint(type: string, op: Perm): Constraint {
    const key = `${type}|${op}`;
    let c = this.cache.get(key);
    if (c === undefined) {
      try {
        c = this.compute(type, op);
      } catch (e) {
        c = e as Error;
      }
      this.cache.set(key, c);
    }
    if (c instanceof Error) throw c;
    return c;
  }

  /** Like `constraint`, but undefined instead of throwing (includes, system-level searches). */
  tryConstraint(type: string, op: Perm): Constraint | undefined {
    try {
      return this.constraint(type, op);
    } catch {
      return undefined;
    }
  }

  private compute(type: string, op: Perm): Constraint {
    const src = this.source;
    if (src.kind === 'privileged') return 'all';
    if (src.kind === 'open') {
      if (op === 'r' || op === 's' || src.write) return 'all';
      throw forbidden('this sandbox is open for reading only; writes need a token on the /data base');
    }
    const alts: Alternative[] = [];
    let patientScopeWithoutContext = false;
    const writeOp = op === 'c' || op === 'u' || op === 'd';
    for (const rule of this.rules) {
      if ((rule.type !== '*' && rule.type !== type) || !rule.perms.has(op)) continue;
      let confinedTo: string | undefined;
      if (rule.context === 'patient') {
        if (!this.grant?.patient) {
          patientScopeWithoutContext = true;
          continue;
        }
        confinedTo = this.grant.patient;
      } else if (rule.context === 'user') {
        confinedTo = this.personaPatient();
      }
      // The launch audit trail is never part of a patient's compartment (issue #5), although R4 lists
      // AuditEvent in the Patient CompartmentDefinition: a patient-confined grant gives nothing on it.
      if (confinedTo !== undefined && type === 'AuditEvent') continue;
      if (confinedTo !== undefined && !inPatientCompartment(type)) {
        // Outside the Patient compartment (Practitioner, Medication…): readable, never writable.
        if (writeOp) continue;
        confinedTo = undefined;
      }
      alts.push({ ...(confinedTo !== undefined ? { patient: confinedTo } : {}), ...(rule.restriction ? { query: rule.restriction } : {}) });
    }
    if (alts.some((a) => a.patient === undefined && a.query === undefined)) return 'all';
    if (alts.length === 0) {
      if (patientScopeWithoutContext) throw forbidden('a patient/ scope was granted but the token carries no patient context');
      throw insufficientScope(`the granted scopes do not allow ${OP_NAMES[op]} of ${type}`);
    }
    return alts;
  }

  /**
   * Which Group members this grant may see (group-subset.ts): when any alternative that grants `op`
   * on Group is confined to a patient, only the members who are those patients; the whole Group
   * only when some alternative is unconfined (`all`, or a user/system scope's query restriction).
   */
  groupMemberView(op: 'r' | 's'): MemberView {
    const c = this.tryConstraint('Group', op);
    if (c === undefined || c === 'all') return undefined;
    const patients = new Set<string>();
    for (const a of c) if (a.patient !== undefined) patients.add(a.patient);
    return patients.size ? patients : undefined;
  }

  /** True when the caller may use the interaction on some type at least (system-level requests). */
  get isPrivileged(): boolean {
    return this.source.kind === 'privileged';
  }
}
