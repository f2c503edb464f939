// Pure FHIR/SMART rules of the bilirubin chart: what the granted scopes allow, the Observation a new
// measurement becomes, how a patient is named and how an error is put into words. No DOM here, so
// node's test runner imports this module directly (test/apps/chart-math.test.ts).

export const LOINC_TRANSCUTANEOUS_BILIRUBIN = '58941-6';

/** The scopes the app asks for (app registration `bilirubin_chart` in the demo sandbox). */
export const REQUESTED_SCOPE =
  'launch launch/patient patient/Patient.read patient/Observation.read patient/Observation.write openid fhirUser online_access';

const V1_WRITE = new Set(['write', '*']);
// SMART v2 permissions are a subset of "cruds" in that order (SMART App Launch 2.x §3.0.2).
const V2_PERMISSIONS = /^c?r?u?d?s?$/;

/**
 * Whether a granted scope string lets the app create Observations for the patient: a patient/ or
 * user/ scope on Observation or `*` with v1 `write` / `*` or a v2 permission set containing `c`.
 * Scopes with v2 query restrictions (`patient/Observation.c?category=…`) are not counted: the app
 * would have to match the restriction to know the server accepts its POST, so it fails closed and
 * hides the form.
 */
export function canWriteObservations(scope) {
  if (typeof scope !== 'string') return false;
  for (const s of scope.split(/\s+/)) {
    const m = /^(patient|user)\/(Observation|\*)\.([^?]+)$/.exec(s);
    if (!m) continue;
    const perm = m[3];
    if (V1_WRITE.has(perm)) return true;
    if (perm.includes('c') && V2_PERMISSIONS.test(perm)) return true;
  }
  return false;
}

/**
 * The Observation a new measurement becomes: the body the original app POSTed (LOINC 58941-6,
 * mg/dL, final, subject the patient) plus the laboratory category and the UCUM system.
 */
export function newBilirubinObservation(patientId, effectiveDateTime, value) {
  return {
    resourceType: 'Observation',
    status: 'final',
    category: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory', display: 'Laboratory' }],
      },
    ],
    code: { coding: [{ system: 'http://loinc.org', code: LOINC_TRANSCUTANEOUS_BILIRUBIN, display: 'Transcutaneous Bilirubin' }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime,
    valueQuantity: { value, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  };
}

/**
 * Reads the measurement form. `localDateTime` is the value of an `<input type="datetime-local">`
 * ("YYYY-MM-DDTHH:MM[:SS]", the browser's local time); `toInstant` turns it into epoch ms (the page
 * passes `(s) => new Date(s).getTime()`, tests pass a fixed zone). Returns `{ error }` in words or
 * `{ effectiveDateTime, value }` ready for `newBilirubinObservation`.
 */
export function readMeasurement(localDateTime, valueText, birthMs, toInstant) {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(localDateTime ?? '')) return { error: 'Enter the date and time of the measurement.' };
  const at = toInstant(localDateTime);
  if (!Number.isFinite(at)) return { error: 'The date and time of the measurement is not valid.' };
  if (birthMs !== null && at < birthMs) return { error: 'The measurement time is before the birth time.' };
  const text = String(valueText ?? '').trim();
  if (!/^\d+(\.\d+)?$/.test(text)) return { error: 'Enter the bilirubin value as a number of mg/dL, e.g. 12.5.' };
  const value = Number(text);
  if (!(value > 0) || value > 50) return { error: 'The bilirubin value must be between 0 and 50 mg/dL.' };
  return { effectiveDateTime: new Date(at).toISOString(), value };
}

/** "Given Family" from the first usable HumanName (text wins), or a placeholder. */
export function patientName(patient) {
  for (const n of patient?.name ?? []) {
    if (typeof n.text === 'string' && n.text.trim()) return n.text.trim();
    // DSTU2 data (like the original BILIBABY bundle) has family as an array.
    const family = Array.isArray(n.family) ? n.family.join(' ') : (n.family ?? '');
    const full = [...(n.given ?? []), family].join(' ').trim();
    if (full) return full;
  }
  return 'Unnamed patient';
}

/**
 * An error in words for the page. `err` is whatever fhirclient threw: an HttpError (status), a
 * network TypeError, or an Error with a message. `phase` says what the app was doing.
 */
export function describeError(err, phase) {
  const status = typeof err?.status === 'number' ? err.status : typeof err?.statusCode === 'number' ? err.statusCode : undefined;
  const detail = firstLine(err?.message);
  if (phase === 'authorize-ready') {
    if (/No 'state' parameter|No state found/i.test(detail)) {
      return 'Authorization is missing: this page must be opened by a SMART launch. Launch the app from the sandbox, or open launch.html?iss=<FHIR base URL> for a standalone launch.';
    }
    return `Authorization failed: ${detail || 'the authorization server did not grant access'}. Relaunch the app.`;
  }
  if (status === 401) return `The FHIR server refused the access token (401 Unauthorized) while ${phase}: the session has expired or was revoked. Relaunch the app.`;
  if (status === 403) return `Access denied (403 Forbidden) while ${phase}: the granted scopes or the user's rights do not allow it.`;
  if (status !== undefined) return `The FHIR server answered ${status} while ${phase}: ${outcomeText(err?.message) ?? detail}`;
  if (err?.name === 'TypeError' || /failed to fetch|networkerror|load failed/i.test(detail)) {
    return `Network error while ${phase}: the FHIR server could not be reached.`;
  }
  return `Something went wrong while ${phase}: ${detail || 'unknown error'}`;
}

/** The diagnostics of an OperationOutcome that fhirclient's HttpError appends to its message. */
function outcomeText(message) {
  if (typeof message !== 'string') return undefined;
  const start = message.indexOf('{');
  if (start < 0) return undefined;
  try {
    const body = JSON.parse(message.slice(start));
    const texts = (body?.issue ?? []).map((i) => i?.diagnostics ?? i?.details?.text).filter((t) => typeof t === 'string' && t);
    return texts.length ? texts.join('; ') : undefined;
  } catch {
    return undefined;
  }
}

function firstLine(message) {
  return typeof message === 'string' ? message.split('\n')[0].trim() : '';
}
