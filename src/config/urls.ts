/**
 * The public URLs of one sandbox (docs/architecture.md §3, contract). Every module builds URLs through these
 * functions so that discovery, the CapabilityStatement, launch URLs and tokens agree exactly.
 */
export interface SandboxUrls {
  /** FHIR base, SMART-secured: this is `iss` and the token audience. */
  iss: string;
  /** FHIR base without auth (only when the sandbox is open). */
  open: string;
  /** OAuth/OIDC issuer of the sandbox's authorization server. */
  issuer: string;
  authorize: string;
  token: string;
  introspect: string;
  revoke: string;
  register: string;
  jwks: string;
  userinfo: string;
  /** `POST` here registers a launch context (HSPC wire format). */
  launchRegistration: string;
  /** The default SMART style document. */
  smartStyle: string;
}

export function sandboxUrls(publicUrl: string, sandboxId: string): SandboxUrls {
  const base = `${publicUrl}/${sandboxId}`;
  const issuer = `${base}/auth`;
  const iss = `${base}/data`;
  return {
    iss,
    open: `${base}/open`,
    issuer,
    authorize: `${issuer}/authorize`,
    token: `${issuer}/token`,
    introspect: `${issuer}/introspect`,
    revoke: `${issuer}/revoke`,
    register: `${issuer}/register`,
    jwks: `${issuer}/jwks`,
    userinfo: `${issuer}/userinfo`,
    launchRegistration: `${iss}/_services/smart/Launch`,
    smartStyle: `${publicUrl}/smart-style.json`,
  };
}

/** The demo app's URLs, always derived from the current public URL (docs/architecture.md §3). */
export function bilirubinAppUrls(publicUrl: string): { launch: string; redirect: string } {
  return { launch: `${publicUrl}/apps/bilirubin-chart/launch.html`, redirect: `${publicUrl}/apps/bilirubin-chart/index.html` };
}
