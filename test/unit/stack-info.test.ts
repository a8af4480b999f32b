/**
 * The local stack's description (scripts/stack/info.ts) and how scripts/stack.sh reads a stack directory without
 * starting anything: `env` on a directory of the script from before stack.json, and the schema's errors.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseStackInfo } from '../../scripts/stack/info.js';

const script = join(import.meta.dirname, '..', '..', 'scripts', 'stack.sh');
const dirs: string[] = [];

function stackDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stack-info-'));
  dirs.push(dir);
  return dir;
}

function env(dir: string, ...args: string[]): string {
  return execFileSync('bash', [script, 'env', ...args], {
    encoding: 'utf8',
    // Without the caller's scheduler/kwok ports (CI sets them): the old-state case derives them from the state file.
    env: { ...process.env, EKS_SYNC_STACK_DIR: dir, EKS_SYNC_SCHEDULER_PORT: '', EKS_SYNC_KWOK_PORT: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

const legacyState = (clusters: number) =>
  `STACK_CLUSTERS=${clusters}\nETCD_PORT=41790\nETCD_PEER_PORT=41800\nAPISERVER_PORT=41443\nKCM_PORT=42443\nMOTO_PORT=41566\n`;

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('stack.sh env on a stack directory of the script from before stack.json', () => {
  it('describes it from stack.env, writes stack.json once and prints exactly that file', () => {
    const dir = stackDir();
    writeFileSync(join(dir, 'stack.env'), legacyState(2));

    const printed = env(dir, '--json');

    expect(readFileSync(join(dir, 'stack.json'), 'utf8')).toBe(printed);
    const info = parseStackInfo(printed, 'env --json');
    expect(info.clusters).toEqual(['stack-1', 'stack-2']);
    expect(info.servers).toEqual({ 'stack-1': 'https://127.0.0.1:41443', 'stack-2': 'https://127.0.0.1:41444' });
    // The scheduler's and kwok's ports, absent from an old stack.env, follow the controller-managers' (+1000, +2000).
    expect(info.ports).toEqual({
      etcd: 41790,
      etcdPeer: 41800,
      apiserver: 41443,
      kcm: 42443,
      scheduler: 43443,
      kwok: 44443,
      moto: 41566,
    });
    expect(info.aws.endpoint).toBe('http://127.0.0.1:41566');
    expect(info.kubeconfig).toBe(join(dir, 'kubeconfig', 'admin.kubeconfig'));
    expect(info.env.EKS_SYNC_STACK_CLUSTERS).toBe('stack-1,stack-2');
    expect(info.env.EKS_SYNC_STACK_DIR).toBe(dir);
  });

  it('follows a stack.env rewritten after stack.json (an older checkout ran `up` since)', () => {
    const dir = stackDir();
    writeFileSync(join(dir, 'stack.env'), legacyState(2));
    env(dir, '--json');
    writeFileSync(join(dir, 'stack.env'), legacyState(4));
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(dir, 'stack.env'), later, later);

    expect(parseStackInfo(env(dir, '--json'), 'env --json').clusters).toHaveLength(4);
  });

  it('prints the shell exports of the same description', () => {
    const dir = stackDir();
    writeFileSync(join(dir, 'stack.env'), legacyState(1));

    const lines = env(dir).trim().split('\n');

    expect(lines).toContain(`export KUBECONFIG='${join(dir, 'kubeconfig', 'admin.kubeconfig')}'`);
    expect(lines).toContain("export AWS_ENDPOINT_URL='http://127.0.0.1:41566'");
    expect(lines).toContain("export EKS_SYNC_STACK_CLUSTERS='stack-1'");
    expect(lines.at(-1)).toBe(`export PATH='${join(dir, 'bin')}':"$PATH"`);
  });

  it('refuses a directory that was never set up, naming the missing file', () => {
    const dir = stackDir();
    expect(() => env(dir, '--json')).toThrow(/no .*stack\.json/);
  });
});

describe('parseStackInfo', () => {
  it('names the file and the first wrong field', () => {
    const dir = stackDir();
    writeFileSync(join(dir, 'stack.env'), legacyState(1));
    const info = JSON.parse(env(dir, '--json')) as Record<string, unknown>;
    delete info.syncKubeconfig;

    expect(() => parseStackInfo(JSON.stringify(info), '/x/stack.json')).toThrow(
      /^\/x\/stack\.json: syncKubeconfig: .*run: npm run stack -- up$/,
    );
    expect(() => parseStackInfo('{', '/x/stack.json')).toThrow(/^\/x\/stack\.json: not JSON/);
  });
});
