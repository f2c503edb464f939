import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqlite } from '../../src/storage/sqlite/open.js';
import { SqliteResourceStore } from '../../src/storage/sqlite/fhir/resource-store.js';
import { resourceStoreContract } from './store-contract.js';

resourceStoreContract('SQLite', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ss-'));
  const db = openSqlite(dir);
  return {
    store: new SqliteResourceStore(db),
    close() {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
