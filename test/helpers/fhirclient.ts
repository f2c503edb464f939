/**
 * The real `fhirclient` library (Node entry) as the SMART app in end-to-end tests, per
 * docs/conformance.md §2: `authorize()` with `noRedirect` gives the authorize URL, and `ready()`
 * on the redirect URL exchanges the code and yields a Client.
 */
import { createRequire } from 'node:module';

/** The parts of fhirclient's Client the tests use (its .d.ts is CJS `export =`, awkward under NodeNext). */
export interface FhirClient {
  state: { tokenResponse?: Record<string, any>; scope?: string; clientId?: string };
  patient: { id: string | null; read(): Promise<any> };
  encounter: { id: string | null };
  user: { id: string | null; fhirUser: string | null; resourceType: string | null };
  request(url: string, options?: Record<string, unknown>): Promise<any>;
  refresh(): Promise<any>;
  getIdToken(): Record<string, any> | null;
}

const require = createRequire(import.meta.url);
const smart = require('fhirclient') as (req: unknown, res: unknown, storage?: unknown) => {
  authorize(options: Record<string, unknown>): Promise<string | undefined>;
  ready(): Promise<FhirClient>;
};

/** A server-side app session: fhirclient keeps its state in `session`. */
export class AppSession {
  readonly session: Record<string, unknown> = {};
  constructor(readonly appOrigin: string) {}

  private req(pathAndQuery: string) {
    const u = new URL(pathAndQuery, this.appOrigin);
    return { url: `${u.pathname}${u.search}`, headers: { host: u.host }, session: this.session, socket: {} };
  }

  private res() {
    return { writeHead() {}, end() {} };
  }

  /** EHR launch (`launchUrl` carries iss + launch) or standalone (`iss` option). Returns the authorize URL. */
  async authorize(launchPath: string, options: Record<string, unknown>): Promise<string> {
    const url = await smart(this.req(launchPath), this.res()).authorize({ ...options, noRedirect: true });
    if (typeof url !== 'string') throw new Error('fhirclient did not return an authorize URL');
    return url;
  }

  /** Completes the flow on the app's redirect URL (with code + state); returns the fhirclient Client. */
  async ready(callbackUrl: string): Promise<FhirClient> {
    const u = new URL(callbackUrl);
    return smart(this.req(`${u.pathname}${u.search}`), this.res()).ready();
  }
}
