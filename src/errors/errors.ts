/**
 * Errors that cross module boundaries. Handlers throw `FhirError`; the HTTP layer renders it as an
 * OperationOutcome with the given status (FHIR R4 §3.1.0.4 "Handling errors"). Anything else that
 * escapes is a server fault: logged, answered with a generic 500 OperationOutcome, never a stack trace.
 */
export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export interface OutcomeIssue {
  severity: IssueSeverity;
  /** An IssueType code (http://hl7.org/fhir/valueset-issue-type.html). */
  code: string;
  diagnostics?: string;
  expression?: string[];
  details?: { text: string };
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  issue: OutcomeIssue[];
}

export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly issues: OutcomeIssue[],
    /** Extra response headers, e.g. WWW-Authenticate on 401/403. */
    readonly headers: Record<string, string> = {},
  ) {
    super(issues.map((i) => i.diagnostics ?? i.code).join('; '));
  }

  get outcome(): OperationOutcome {
    return { resourceType: 'OperationOutcome', issue: this.issues };
  }
}

function one(status: number, code: string, diagnostics: string, expression?: string[], headers?: Record<string, string>) {
  return new FhirError(status, [{ severity: 'error', code, diagnostics, ...(expression ? { expression } : {}) }], headers);
}

export const badRequest = (msg: string, expression?: string[]) => one(400, 'invalid', msg, expression);
export const notFound = (msg: string) => one(404, 'not-found', msg);
export const gone = (msg: string) => one(410, 'deleted', msg);
export const conflict = (msg: string) => one(409, 'conflict', msg);
export const preconditionFailed = (msg: string) => one(412, 'conflict', msg);
export const notSupported = (msg: string, status = 400) => one(status, 'not-supported', msg);
export const forbidden = (msg: string, headers?: Record<string, string>) => one(403, 'forbidden', msg, undefined, headers);
export const unauthorized = (msg: string) =>
  one(401, 'login', msg, undefined, { 'www-authenticate': `Bearer error="invalid_token", error_description="${msg.replace(/"/g, "'")}"` });
export const insufficientScope = (msg: string) =>
  one(403, 'forbidden', msg, undefined, { 'www-authenticate': `Bearer error="insufficient_scope", error_description="${msg.replace(/"/g, "'")}"` });
export const unavailable = (msg: string) => one(503, 'transient', msg);

export function outcome(severity: IssueSeverity, code: string, diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}
