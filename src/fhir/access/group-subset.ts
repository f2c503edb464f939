/**
 * A Group lists its members by reference, so a Group in one patient's compartment (R4 Patient
 * CompartmentDefinition: Group.member) names every other member too. A patient-confined grant must
 * never learn other patients' ids (SMART App Launch 2.2 §"patient/ scopes": access to the context
 * patient's data only): such a grant sees a Group with its own `member` entries only, marked
 * SUBSETTED as R4 §3.1.1.5.7 asks of any resource returned with fewer elements than stored.
 *
 * Which grants are confined, and to which patients, is decided by AccessPolicy.groupMemberView;
 * this module applies the view to the stored JSON and keeps `member` searches from probing it.
 */
import { forbidden } from '../../errors/errors.js';
import { orValues, unescapeValue } from '../search/values.js';

export const SUBSETTED_TAG = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' } as const;

/** Patient ids whose member entries a grant may see; `undefined` = the whole Group. */
export type MemberView = ReadonlySet<string> | undefined;

function memberPatient(m: unknown): string | undefined {
  const ref = (m as { entity?: { reference?: unknown } } | null)?.entity?.reference;
  if (typeof ref !== 'string') return undefined;
  // Relative (`Patient/x`), absolute (`…/Patient/x`) or versioned (`Patient/x/_history/2`) references.
  const m2 = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]*)?$/.exec(ref);
  return m2 ? m2[1] : undefined;
}

/**
 * The Group JSON text as `view` may see it: only member entries whose entity is one of the view's
 * patients (every other member — other patients, practitioners, devices, unresolvable references —
 * is dropped, fail closed), tagged SUBSETTED whenever anything was removed. Other types and whole
 * views return the text unchanged.
 */
export function subsetGroup(content: string, view: MemberView): string {
  if (view === undefined) return content;
  const g = JSON.parse(content) as { resourceType?: string; member?: unknown[]; meta?: { tag?: unknown[] } & Record<string, unknown> };
  if (g.resourceType !== 'Group' || !Array.isArray(g.member)) return content;
  const kept = g.member.filter((m) => {
    const p = memberPatient(m);
    return p !== undefined && view.has(p);
  });
  if (kept.length === g.member.length) return content;
  const { member: _all, ...rest } = g;
  const meta = { ...(g.meta ?? {}), tag: [...(g.meta?.tag ?? []), SUBSETTED_TAG] };
  return JSON.stringify({ ...rest, meta, ...(kept.length ? { member: kept } : {}) });
}

function ownPatientValue(raw: string, modifier: string | undefined, view: ReadonlySet<string>, baseUrl: string): boolean {
  let v = unescapeValue(raw);
  if (v.startsWith(`${baseUrl}/`)) v = v.slice(baseUrl.length + 1);
  if (modifier === undefined && v.startsWith('Patient/')) v = v.slice('Patient/'.length);
  else if (modifier === 'Patient' && v.startsWith('Patient/')) v = v.slice('Patient/'.length);
  return view.has(v);
}

/**
 * Searching Groups by `member` would answer what the subsetted view hides — `Group?member=Patient/x`
 * finds the context patient's Groups that also list x. Under a subsetting view, `member` (and
 * `member:Patient`) may name the view's own patients only, `:missing` is harmless, and chains
 * through `member` (from Group or from any chain that reaches a Group) are refused. The check looks
 * at the request alone, never at the data, so its answer reveals nothing.
 */
export function checkMemberSearch(params: [string, string][], view: MemberView, baseUrl: string): void {
  if (view === undefined) return;
  const refuse = (name: string) =>
    forbidden(`${name}: a patient-confined grant searches Groups by member for its own patient only (member=Patient/${[...view][0] ?? '…'})`);
  for (const [name, value] of params) {
    if (name.startsWith('_has:')) continue; // results are of the outer type, confined by its own access
    const segs = name.split('.');
    for (const [i, seg] of segs.entries()) {
      const [code, modifier] = seg.split(':', 2);
      if (code !== 'member') continue;
      if (segs.length !== 1 || i !== 0) throw refuse(name);
      if (modifier === 'missing') continue;
      if (modifier !== undefined && modifier !== 'Patient') throw refuse(name);
      if (!orValues(value).every((v) => ownPatientValue(v, modifier, view, baseUrl))) throw refuse(name);
    }
  }
}
