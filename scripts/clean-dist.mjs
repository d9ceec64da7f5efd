// Empties dist/ before `npm run build`, so that a module deleted or renamed in src/ leaves no
// stale file (and source map pointing at a missing source) in the build or the npm package.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist/', import.meta.url), { recursive: true, force: true });
