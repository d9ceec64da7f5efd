// Copies the files tsc does not emit (the admin status page) from src/ to dist/, beside the
// modules that serve them. Part of `npm run build`.
import { cpSync } from 'node:fs';

const root = new URL('../', import.meta.url);
for (const dir of ['admin/page']) {
  cpSync(new URL(`src/${dir}/`, root), new URL(`dist/${dir}/`, root), { recursive: true });
}
