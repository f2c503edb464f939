/**
 * The launch registration API (docs/architecture.md §5): the HSPC-compatible request and response around
 * the launch lifecycle (lifecycle.ts), which decides who may register what, binding and lifetime.
 */
import type { ClientLookup } from '../auth/types.js';
import { sandboxUrls } from '../config/urls.js';
import { notFound } from '../errors/errors.js';
import type { Sandbox } from '../storage/types.js';
import { type Caller, type LaunchLifecycle, LIFETIMES, ORCHESTRATE_SCOPE } from './lifecycle.js';
import type { StoredLaunch } from './model.js';
import { parseRegistration } from './validate.js';

export { type Caller, LIFETIMES, ORCHESTRATE_SCOPE };

export interface LaunchResponse {
  launch_id: string;
  created_at: string;
  created_by: string;
  parameters: Record<string, unknown>;
  username: string;
  expires_at: string;
  launch_url?: string;
  /** smart-sandbox extension, only when the launch simulates an error. */
  simulate_error?: string;
}

interface Deps {
  publicUrl: string;
  lifecycle: LaunchLifecycle;
  clients: ClientLookup;
}

export class LaunchService {
  constructor(private readonly deps: Deps) {}

  async register(sandbox: Sandbox, caller: Caller, body: unknown): Promise<LaunchResponse> {
    const who = await this.deps.lifecycle.authority(sandbox, caller);
    const { launchId, launch, launchUri } = await this.deps.lifecycle.register(sandbox, who, parseRegistration(body));
    return this.response(sandbox, launchId, launch, launchUri);
  }

  /** GET …/Launch/{id}: the stored launch, to a caller with the same right as registering. */
  async inspect(sandbox: Sandbox, caller: Caller, launchId: string): Promise<LaunchResponse> {
    const launch = await this.owned(sandbox, caller, launchId);
    const client = launch.clientIds.length === 1 ? await this.deps.clients.getClient(sandbox.key, launch.clientIds[0]) : undefined;
    return this.response(sandbox, launchId, launch, client?.launchUri);
  }

  /** DELETE …/Launch/{id}: revokes a launch; it can no longer start authorizations. */
  async revoke(sandbox: Sandbox, caller: Caller, launchId: string): Promise<void> {
    await this.deps.lifecycle.revoke(sandbox, await this.owned(sandbox, caller, launchId));
  }

  private async owned(sandbox: Sandbox, caller: Caller, launchId: string): Promise<StoredLaunch> {
    const who = await this.deps.lifecycle.authority(sandbox, caller);
    const launch = await this.deps.lifecycle.find(sandbox.key, launchId);
    // Callers without the orchestration scope only see their own launches; others' answer as unknown.
    if (!launch || (who.kind !== 'orchestrator' && launch.createdBy !== who.createdBy)) throw notFound('no such launch (unknown, expired or not yours)');
    return launch;
  }

  private response(sandbox: Sandbox, launchId: string, l: StoredLaunch, launchUri: string | undefined): LaunchResponse {
    const out: LaunchResponse = {
      launch_id: launchId,
      created_at: new Date(l.createdAt).toISOString(),
      created_by: l.createdBy,
      parameters: l.parameters,
      username: l.username ?? 'none',
      expires_at: new Date(l.expiresAt).toISOString(),
    };
    if (l.simulateError) out.simulate_error = l.simulateError;
    if (launchUri) out.launch_url = launchUrl(launchUri, sandboxUrls(this.deps.publicUrl, sandbox.id).iss, launchId);
    return out;
  }
}

/** `{launch_uri}?iss={iss}&launch={id}`, keeping any query the launch URI already has (SMART App Launch §EHR launch). */
export function launchUrl(launchUri: string, iss: string, launchId: string): string {
  const u = new URL(launchUri);
  u.searchParams.set('iss', iss);
  u.searchParams.set('launch', launchId);
  return u.toString();
}
