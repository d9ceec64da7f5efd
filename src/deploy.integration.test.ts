/**
 * The Kubernetes example (deploy/kubernetes/sluice.yaml) is checked by tools/k8scheck against the
 * Kubernetes API types, strictly (a misspelt field fails), with the agent's own rules (non-root,
 * no privilege escalation, capabilities dropped, mounts naming volumes); its embedded sluice
 * config passes `sluice validate` with the node name the Downward API gives. Broken copies of
 * the manifest must fail the checker, so the check is known to bite. Needs Go (its modules are
 * fetched from the Go proxy on first use); skipped without it, except under CI=true.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { repoRoot, serverPrograms, sluiceCommand } from './testing/processes.js';

const servers = serverPrograms(['go'], 'apt-get install golang, or Go from go.dev');
const MANIFEST = path.join(repoRoot, 'deploy', 'kubernetes', 'sluice.yaml');

describe('the Kubernetes example', { skip: servers.skip, timeout: 600_000 }, () => {
  let tmp = '';
  let checker = '';
  before(() => {
    servers.assertInstalled();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sluice-k8s-'));
    checker = path.join(tmp, 'k8scheck');
    const build = spawnSync(servers.paths.go as string, ['build', '-o', checker, '.'], {
      cwd: path.join(repoRoot, 'tools', 'k8scheck'),
      encoding: 'utf8',
    });
    assert.equal(build.status, 0, `go build: ${build.stdout}${build.stderr}`);
  });
  after(() => {
    if (tmp !== '') rmSync(tmp, { recursive: true, force: true });
  });

  const check = (file: string) => spawnSync(checker, [file], { encoding: 'utf8' });

  it('passes the schema-aware check', () => {
    const r = check(MANIFEST);
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it('fails it when broken: a misspelt field, a mount without a volume, privilege escalation', () => {
    const text = readFileSync(MANIFEST, 'utf8');
    const broken = {
      typo: text.replace('mountPath: /etc/sluice', 'mountPaht: /etc/sluice'),
      volume: text.replace(/^ {8}- name: hostfs$/m, '        - name: host-fs'),
      escalation: text.replace('allowPrivilegeEscalation: false', 'allowPrivilegeEscalation: true'),
    };
    for (const [what, body] of Object.entries(broken)) {
      assert.notEqual(body, text, `${what}: the mutation applies`);
      const file = path.join(tmp, `${what}.yaml`);
      writeFileSync(file, body);
      const r = check(file);
      assert.equal(r.status, 1, `${what}: ${r.stdout}`);
    }
  });

  it('holds a config sluice validates, with the node name from the Downward API', () => {
    const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map(
      (d) => d.toJS() as Record<string, unknown>,
    );
    const configMap = docs.find((d) => d.kind === 'ConfigMap') as { data: Record<string, string> };
    const file = path.join(tmp, 'sluice.yaml');
    writeFileSync(file, configMap.data['sluice.yaml'] as string);
    const r = spawnSync(...sluiceCommand(['validate', file]), {
      encoding: 'utf8',
      env: { ...process.env, NODE_NAME: 'node-a' },
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });
});
