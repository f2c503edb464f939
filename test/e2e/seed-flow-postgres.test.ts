/**
 * Issue #7: the seed flow end to end on PostgreSQL — `serve` and every CLI command on one fresh
 * database (`DATABASE_URL`), created for this run and dropped after.
 */
import { createTestDatabase, postgresSkip } from '../helpers/postgres.js';
import { seedFlowSuite } from './seed-flow-suite.js';

seedFlowSuite(
  'seed flow on PostgreSQL: register a launch and launch bilirubin_chart (issue #7)',
  async () => {
    const db = await createTestDatabase();
    return { env: { DATABASE_URL: db.url }, drop: () => db.drop() };
  },
  await postgresSkip(),
);
