/**
 * Writes the configuration's JSON Schema (lib/config/json-schema.ts) to schema/eks-secret-sync.schema.json.
 *
 *   npm run schema             # regenerate after changing lib/config/schema.ts
 *   npm run schema -- --check  # exit 1 if the committed file is not what the zod schema gives
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configJsonSchemaText, JSON_SCHEMA_FILE } from '../lib/config/json-schema.js';

const file = join(dirname(fileURLToPath(import.meta.url)), '..', JSON_SCHEMA_FILE);
const { values } = parseArgs({ options: { check: { type: 'boolean', default: false } } });
const text = configJsonSchemaText();
if (values.check) {
  const committed = await readFile(file, 'utf8').catch(() => '');
  if (committed !== text) {
    console.error(`${JSON_SCHEMA_FILE} is out of date: run "npm run schema" and commit it`);
    process.exitCode = 1;
  }
} else {
  await writeFile(file, text);
  console.log(`wrote ${JSON_SCHEMA_FILE}`);
}
