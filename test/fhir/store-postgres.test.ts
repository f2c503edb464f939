/** The ResourceStore contract on PostgreSQL: each fixture gets its own fresh database, dropped after (issue #7). */
import { openPostgresBackend } from '../../src/storage/postgres/backend.js';
import { createTestDatabase, postgresSkip } from '../helpers/postgres.js';
import { resourceStoreContract } from './store-contract.js';

resourceStoreContract(
  'PostgreSQL',
  async () => {
    const db = await createTestDatabase();
    const backend = await openPostgresBackend(db.url);
    return {
      store: backend.resources,
      async close() {
        await backend.close();
        await db.drop();
      },
    };
  },
  await postgresSkip(),
);
