/**
 * A Group lists its members by reference, so a Group in one patient's compartment (R4 Patient
 * CompartmentDefinition: Group.member) names every other member too. A patient-confined grant must
 * never learn other patients' ids (SMART App Launch 2.2 §"patient/ scopes": access to the context
 * patient's data only): such a grant sees a Group with its own `member` entries only, marked
 * SUBSETTED as R4 §3.1.1.5.7 asks of any resource returned with fewer elements than stored.
 *
 * Which grants are confined, and to which patients, is decided by AccessPolicy.groupMemberView;
 * this module only applies the view to the stored JSON.
 */

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
