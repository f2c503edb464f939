/**
 * `client`, `persona` and `keys` commands (docs/architecture.md §4): the sandbox's registered apps and users.
 * Changes take effect in a running server at once (it reads clients and personas from the store).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { AuthInputError, type ClientAddOptions } from '../auth/types.js';
import type { Services } from '../services.js';
import type { Sandbox } from '../storage/types.js';
import { addStorageOptions, CliError, printJson, UsageError, withServices } from './context.js';

const collect = (v: string, acc: string[]) => [...acc, v];

async function sandboxOf(s: Services, id: string): Promise<Sandbox> {
  const sandbox = await s.tenants.get(id);
  if (!sandbox) throw new CliError(`sandbox ${id} does not exist`);
  return sandbox;
}

async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof AuthInputError) throw new CliError(e.message);
    throw e;
  }
}

function readJwksFile(file: string): { keys: Record<string, unknown>[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new CliError(`--jwks-file ${file}: ${(e as Error).message}`);
  }
  const keys = (doc as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new CliError(`--jwks-file ${file}: not a JWK Set ({"keys":[…]})`);
  return { keys: keys as Record<string, unknown>[] };
}

export function registerAuthCommands(program: Command): void {
  const client = program.command('client').description('register, list and remove SMART apps and services of a sandbox');
  addStorageOptions(
    client
      .command('add <sandbox> <client_id>')
      .description('register an app: public (--public), symmetric (--secret, or a generated one) or asymmetric (--jwks-url/--jwks-file)')
      .option('--name <text>', 'display name')
      .option('--public', 'public client (no secret; PKCE protects the code)')
      .option('--secret <secret>', 'client secret (symmetric client); generated and shown once when omitted')
      .option('--secret-post', 'symmetric client authenticating with client_secret_post (default client_secret_basic)')
      .option('--jwks-url <url>', 'JWKS URL of an asymmetric client (private_key_jwt)')
      .option('--jwks-file <file>', 'inline JWK Set of an asymmetric client (private_key_jwt)')
      .option('--redirect-uri <uri>', 'allowed redirect URI (repeatable)', collect, [] as string[])
      .option('--launch-uri <uri>', "the app's launch URL (EHR launch)")
      .option('--scope <scopes>', 'scopes the app may be granted (SMART v1/v2; wildcards allowed)')
      .option('--grant <type>', 'authorization_code, refresh_token or client_credentials (repeatable)', collect, [] as string[])
      .option('--pkce <policy>', 'required (default) or if-sent (legacy apps)')
      .option('--consent <policy>', 'prompt (default) or skip')
      .option('--may-register-launches', "this app's user tokens may register launches (HSPC-era clients, e.g. the CDS Hooks sandbox)")
      .option('--launch-lifetime <seconds>', 'default lifetime of launches registered for this app (default 3600, at most 86400)'),
  ).action((sandboxId: string, clientId: string, opts) =>
    withServices(opts, async (s) => {
      const sandbox = await sandboxOf(s, sandboxId);
      if (opts.pkce !== undefined && opts.pkce !== 'required' && opts.pkce !== 'if-sent') throw new UsageError('--pkce must be required or if-sent');
      if (opts.consent !== undefined && opts.consent !== 'prompt' && opts.consent !== 'skip') throw new UsageError('--consent must be prompt or skip');
      if (opts.jwksUrl && opts.jwksFile) throw new UsageError('give --jwks-url or --jwks-file, not both');
      const add: ClientAddOptions = {
        clientId,
        name: opts.name,
        public: !!opts.public,
        secret: opts.secret,
        secretMethod: opts.secretPost ? 'client_secret_post' : undefined,
        jwksUrl: opts.jwksUrl,
        jwks: opts.jwksFile ? readJwksFile(opts.jwksFile) : undefined,
        redirectUris: opts.redirectUri,
        launchUri: opts.launchUri,
        scope: opts.scope,
        grantTypes: opts.grant.length ? opts.grant : undefined,
        pkce: opts.pkce,
        consent: opts.consent,
        mayRegisterLaunches: !!opts.mayRegisterLaunches,
        launchTtl: opts.launchLifetime === undefined ? undefined : Number(opts.launchLifetime),
      };
      const result = await guard(() => s.auth.clients.add(sandbox.key, add));
      printJson({ ...result.client, client_secret: result.generatedSecret });
      if (result.generatedSecret) process.stderr.write('the generated client secret is shown once; store it now\n');
    }),
  );
  addStorageOptions(client.command('list <sandbox>').description("list a sandbox's apps")).action((sandboxId: string, opts) =>
    withServices(opts, async (s) => printJson(await s.auth.clients.list((await sandboxOf(s, sandboxId)).key))),
  );
  addStorageOptions(client.command('remove <sandbox> <client_id>').description('remove an app; its grants and tokens stop working at once')).action(
    (sandboxId: string, clientId: string, opts) =>
      withServices(opts, async (s) => {
        if (!(await s.auth.clients.remove((await sandboxOf(s, sandboxId)).key, clientId))) throw new CliError(`client ${clientId} does not exist in ${sandboxId}`);
        process.stdout.write(`removed client ${clientId}\n`);
      }),
  );

  const persona = program.command('persona').description('sandbox users (practitioners, patients) one logs in as');
  addStorageOptions(
    persona
      .command('add <sandbox> <username>')
      .description('add a persona linked to an existing FHIR resource')
      .option('--password <password>', 'password (generated and shown once when omitted)')
      .requiredOption('--resource <ref>', 'Practitioner/ID or Patient/ID (must exist in the sandbox)')
      .option('--name <text>', 'display name'),
  ).action((sandboxId: string, username: string, opts) =>
    withServices(opts, async (s) => {
      const sandbox = await sandboxOf(s, sandboxId);
      const r = await guard(() => s.auth.personas.add(sandbox.key, { username, password: opts.password, resource: opts.resource, name: opts.name }));
      printJson({ ...r.persona, password: r.generatedPassword });
    }),
  );
  addStorageOptions(persona.command('list <sandbox>').description("list personas (with the demo personas' generated passwords)").option('--json', 'print JSON')).action(
    (sandboxId: string, opts) =>
      withServices(opts, async (s) => {
        const list = await s.auth.personas.list((await sandboxOf(s, sandboxId)).key);
        if (opts.json) return printJson(list);
        for (const p of list) process.stdout.write(`${p.username}\t${p.resource}\t${p.demoPassword ? `password: ${p.demoPassword}` : '(password set by its creator)'}\t${p.name}\n`);
      }),
  );
  addStorageOptions(persona.command('remove <sandbox> <username>').description('remove a persona; its sessions and tokens stop working at once')).action(
    (sandboxId: string, username: string, opts) =>
      withServices(opts, async (s) => {
        if (!(await s.auth.personas.remove((await sandboxOf(s, sandboxId)).key, username))) throw new CliError(`persona ${username} does not exist in ${sandboxId}`);
        process.stdout.write(`removed persona ${username}\n`);
      }),
  );

  const keys = program.command('keys').description("the sandbox authorization server's signing keys");
  addStorageOptions(
    keys.command('rotate <sandbox>').description('new signing and cookie keys; the previous key stays published so issued id_tokens still verify'),
  ).action((sandboxId: string, opts) =>
    withServices(opts, async (s) => {
      await s.auth.rotateKeys(await sandboxOf(s, sandboxId));
      process.stdout.write(`rotated the signing keys of ${sandboxId}; a running server uses them from its next request\n`);
    }),
  );
}
