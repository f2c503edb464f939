import type { Migration } from '../migrate.js';
import { m0001 } from './0001_sandboxes.js';
import { m0002 } from './0002_fhir.js';
import { m0003 } from './0003_auth.js';
import { m0004 } from './0004_launch.js';
import { m0005 } from './0005_audit.js';
import { m0008 } from './0008_launch_simulated_error.js';
import { m0006 } from './0006_console.js';
import { m0007 } from './0007_bulk.js';
import { m0009 } from './0009_bulk_job_owner.js';
import { m0010 } from './0010_launch_lifecycle.js';

/**
 * Every migration, in any order (the runner sorts by version). Capabilities add theirs here:
 * 0002 FHIR resources and indexes, 0003 auth (oidc-provider payloads, clients, personas), 0004 launches, 0005 audit, 0006 console scenarios, 0007 bulk data export jobs, 0009 their owner, 0010 the launch lifecycle.
 */
export const migrations: Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008, m0009, m0010];
