/**
 * The configuration's JSON Schema, generated from the zod schema, for editors: `# yaml-language-server: $schema=`
 * at the top of a file gives completion, hover text and validation of `eks-secret-sync.yaml`. The committed copy
 * (JSON_SCHEMA_FILE) is written by `npm run schema`; a unit test fails when it drifts from the zod schema.
 */
import * as z from 'zod';
import { configSchema } from './schema.js';

/** Where the generated schema is committed, relative to the repository root. */
export const JSON_SCHEMA_FILE = 'schema/eks-secret-sync.schema.json';

/**
 * The schema of the file as people write it (zod's input side: fields with defaults are optional). Draft-07, the
 * draft editors' YAML and JSON language servers support best. Cross-checks (cluster references, Secret types'
 * keys) are not expressible in it: `eks-secret-sync validate` runs those.
 */
export function configJsonSchema(): Record<string, unknown> {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, {
    io: 'input',
    target: 'draft-7',
    unrepresentable: 'throw',
  });
  return {
    $schema,
    title: 'eks-secret-sync configuration',
    description:
      'Clusters, and which Secrets Manager secrets become which Kubernetes Secrets in them. Generated from ' +
      'lib/config/schema.ts by `npm run schema`; `eks-secret-sync validate` also checks cluster references, ' +
      'duplicate Secrets and the keys each Secret type needs.',
    ...rest,
  };
}

/** The committed file's text: two-space JSON and a final newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
