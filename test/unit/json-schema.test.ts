import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../lib/config/index.js';
import { configJsonSchema, configJsonSchemaText, JSON_SCHEMA_FILE } from '../../lib/config/json-schema.js';
import { jsonSchemaErrors } from '../support/json-schema.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = join(ROOT, 'examples/eks-secret-sync.yaml');
const schema = configJsonSchema();

describe('the configuration JSON Schema', () => {
  it('is committed exactly as the zod schema generates it (run "npm run schema" after changing the schema)', () => {
    expect(readFileSync(join(ROOT, JSON_SCHEMA_FILE), 'utf8')).toBe(configJsonSchemaText());
  });

  it('is referenced from the first line of the example, by a path that reaches the committed file', () => {
    // Prepare
    const first = readFileSync(EXAMPLE, 'utf8').split('\n')[0] ?? '';

    // Act
    const match = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);

    // Assess
    expect(match, first).not.toBeNull();
    expect(resolve(dirname(EXAMPLE), match?.[1] ?? '')).toBe(join(ROOT, JSON_SCHEMA_FILE));
  });

  it('accepts the example configuration, which the runtime accepts too', () => {
    const text = readFileSync(EXAMPLE, 'utf8');

    expect(jsonSchemaErrors(schema, parse(text))).toEqual([]);
    expect(() => parseConfig(text)).not.toThrow();
  });

  it('lets fields with defaults be left out, as people write the file', () => {
    const minimal = {
      clusters: { a: { kubeconfig: { context: 'kind-a' } } },
      syncs: [{ source: { secret: 'app/db' }, targets: [{ clusters: ['a'], namespaces: ['app'] }] }],
    };

    expect(jsonSchemaErrors(schema, minimal)).toEqual([]);
  });

  it.each([
    ['an unknown field of a target', { namespace: ['app'] }, 'unknown property "namespace"'],
    ['a restart policy that is no form', { restart: 'always' }, 'matches no anyOf branch'],
    ['an invalid namespace name', { namespaces: ['App_1'] }, 'does not match'],
    ['a workload kind we do not restart', { restart: { workloads: [{ kind: 'Job', name: 'x' }] } }, 'anyOf'],
  ])('refuses %s, as the runtime does', (_what, fields, error) => {
    // Prepare
    const config = {
      clusters: { a: { eks: { name: 'a', region: 'eu-west-1' } } },
      syncs: [{ source: { secret: 'app/db' }, targets: [{ clusters: ['a'], namespaces: ['app'], ...fields }] }],
    };

    // Act
    const errors = jsonSchemaErrors(schema, config);

    // Assess
    expect(errors.join('\n')).toContain(error);
    expect(() => parseConfig(JSON.stringify(config))).toThrow();
  });

  it('offers the built-in Secret types for completion and still takes a custom type', () => {
    // Prepare
    const target = (type: string) => ({
      clusters: { a: { eks: { name: 'a', region: 'eu-west-1' } } },
      syncs: [{ source: { secret: 'app/db' }, targets: [{ clusters: ['a'], namespaces: ['app'], type }] }],
    });
    const text = JSON.stringify(schema);

    // Assess
    for (const type of ['Opaque', 'kubernetes.io/tls', 'kubernetes.io/dockerconfigjson', 'kubernetes.io/basic-auth']) {
      expect(text).toContain(`"${type}"`);
    }
    expect(jsonSchemaErrors(schema, target('example.com/custom'))).toEqual([]);
  });

  it('describes the fields editors show on hover', () => {
    const text = JSON.stringify(schema);

    expect(schema.title).toBe('eks-secret-sync configuration');
    expect(text).toContain('"description":"Names defined under \\"clusters\\""');
  });
});
