/** The seed flow (issue #5) on the default storage, SQLite in a temp dir. The suite: seed-flow-suite.ts. */
import { seedFlowSuite } from './seed-flow-suite.js';

seedFlowSuite('seed flow: register a launch and launch bilirubin_chart (issue #5)', async () => ({ env: {} }));
