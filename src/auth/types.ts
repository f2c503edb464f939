/**
 * Models of the auth capability that other capabilities (launch registration, CLI, console) use.
 */

export type ClientAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** A SMART app or service registered in one sandbox. */
export interface SandboxClient {
  sandboxKey: number;
  clientId: string;
  name: string;
  /** `none` for public clients. */
  authMethod: ClientAuthMethod;
  /** Present only for symmetric clients; stored hashed, never returned after creation. */
  hasSecret: boolean;
  jwksUri?: string;
  jwks?: { keys: Record<string, unknown>[] };
  redirectUris: string[];
  /** The app's launch URL (EHR launch), used to build `launch_url`. */
  launchUri?: string;
  /** Scopes the client may be granted, space-separated (SMART v1/v2 syntax, wildcards allowed). */
  scope: string;
  grantTypes: string[];
  /** `required` (SMART 2.2 default) or `if-sent` for legacy apps. */
  pkce: 'required' | 'if-sent';
  /** `skip` pre-approves the client's scopes (trusted first-party apps such as bilirubin_chart). */
  consent: 'prompt' | 'skip';
  /** HSPC-era clients (CDS Hooks sandbox) whose user tokens may register launches (docs/architecture.md §5). */
  mayRegisterLaunches: boolean;
  /** Per-client lifetimes in seconds; undefined means the sandbox default. */
  accessTokenTtl?: number;
  refreshTokenTtl?: number;
  /** Default lifetime in seconds of launches registered for this app (at most 24 hours); undefined: 60 minutes. */
  launchTtl?: number;
  createdAt: number;
}

/** A sandbox user one can log in as. */
export interface Persona {
  sandboxKey: number;
  username: string;
  name: string;
  /** Relative FHIR reference: `Practitioner/ID` or `Patient/ID` (RelatedPerson allowed too). */
  resource: string;
  createdAt: number;
}

export interface ClientLookup {
  getClient(sandboxKey: number, clientId: string): Promise<SandboxClient | undefined>;
}

export interface PersonaLookup {
  getPersona(sandboxKey: number, username: string): Promise<Persona | undefined>;
}

/** Options of `client add` (docs/architecture.md §4), as an object. */
export interface ClientAddOptions {
  clientId: string;
  name?: string;
  /** `--public`: no client authentication (PKCE protects the code). */
  public?: boolean;
  /** `--secret S`: symmetric client; without it (and without public/JWKS) a secret is generated. */
  secret?: string;
  /** Symmetric clients: `client_secret_basic` (default) or `client_secret_post`; both are accepted at the token endpoint. */
  secretMethod?: 'client_secret_basic' | 'client_secret_post';
  /** `--jwks-url U`: asymmetric client (`private_key_jwt`) with a JWKS URL. */
  jwksUrl?: string;
  /** `--jwks-file F` (read by the CLI): asymmetric client with an inline JWKS. */
  jwks?: { keys: Record<string, unknown>[] };
  redirectUris?: string[];
  launchUri?: string;
  scope?: string;
  grantTypes?: string[];
  pkce?: 'required' | 'if-sent';
  consent?: 'prompt' | 'skip';
  mayRegisterLaunches?: boolean;
  accessTokenTtl?: number;
  refreshTokenTtl?: number;
  /** `--launch-lifetime`: default lifetime (seconds, at most 24 h) of launches registered for this app. */
  launchTtl?: number;
}

export interface ClientAddResult {
  client: SandboxClient;
  /** The generated secret of a symmetric client created without `--secret`: shown once, stored hashed. */
  generatedSecret?: string;
}

export interface ClientStore extends ClientLookup {
  /** `registered`: created by RFC 7591 dynamic registration. */
  add(sandboxKey: number, opts: ClientAddOptions, registered?: boolean): Promise<ClientAddResult>;
  list(sandboxKey: number): Promise<SandboxClient[]>;
  /** Removes the client and revokes every grant, code and token issued to it. False when unknown. */
  remove(sandboxKey: number, clientId: string): Promise<boolean>;
  /**
   * Atomically replaces a client's registration (console edit): its grants and tokens are revoked;
   * when `opts` is refused the old registration stays.
   */
  replace(sandboxKey: number, opts: ClientAddOptions): Promise<ClientAddResult>;
  /** The app whose launch URI is exactly `uri` (CDS Hooks sandbox names apps by launch URL). */
  findByLaunchUri(sandboxKey: number, uri: string): Promise<SandboxClient | undefined>;
  /** The stored secret hash (for the token endpoint's secret check); never leaves the auth module. */
  secretHash(sandboxKey: number, clientId: string): Promise<string | undefined>;
  /** Re-points an app at new URLs (the demo app follows PUBLIC_URL, docs/architecture.md §3). */
  updateUrls(sandboxKey: number, clientId: string, u: { launchUri?: string; redirectUris: string[] }): Promise<void>;
  purgeSandbox(sandboxKey: number): Promise<void>;
}

export interface PersonaAddOptions {
  username: string;
  /** Omitted: a random password is generated and returned once. */
  password?: string;
  /** `Practitioner/ID`, `Patient/ID`, `RelatedPerson/ID` or `Person/ID`; must exist in the sandbox. */
  resource: string;
  name?: string;
}

export interface PersonaListing extends Persona {
  /** Only for personas created by `seedDemo` with a generated password (flagged demo credentials). */
  demoPassword?: string;
}

export interface PersonaStore extends PersonaLookup {
  add(sandboxKey: number, opts: PersonaAddOptions, flags?: { demo?: boolean }): Promise<{ persona: Persona; generatedPassword?: string }>;
  list(sandboxKey: number): Promise<PersonaListing[]>;
  /** Removes the persona and revokes its sessions, grants and tokens. False when unknown. */
  remove(sandboxKey: number, username: string): Promise<boolean>;
  /** The stored demo password of a persona created by `seedDemo`, if any. */
  demoPassword(sandboxKey: number, username: string): Promise<string | undefined>;
  purgeSandbox(sandboxKey: number): Promise<void>;
  /** The persona when the password matches; undefined otherwise (same cost for unknown users). */
  checkPassword(sandboxKey: number, username: string, password: string): Promise<Persona | undefined>;
}

/** A refused store operation, for the CLI and admin API to map to messages / 4xx. */
export class AuthInputError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'exists' | 'not-found',
  ) {
    super(message);
  }
}
