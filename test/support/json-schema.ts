/**
 * A small JSON Schema (draft-07) validator for the keywords our generated configuration schema uses, so that tests
 * can check what an editor would accept without a validator dependency. An unknown keyword fails loudly.
 */

type Schema = Record<string, unknown>;

const KNOWN = new Set([
  '$schema',
  'title',
  'description',
  'default',
  'type',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'enum',
  'const',
  'anyOf',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
]);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Problems of `value` against `schema`, each as `path: what`; empty when it is valid. */
export function jsonSchemaErrors(schema: Schema, value: unknown, path = '$'): string[] {
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN.has(keyword)) throw new Error(`${path}: keyword "${keyword}" is not supported by this validator`);
  }
  const errors: string[] = [];
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const ok = schema.type === actual || (schema.type === 'number' && actual === 'integer');
    if (!ok) return [`${path}: expected ${String(schema.type)}, got ${actual}`];
  }
  if (schema.const !== undefined && value !== schema.const)
    errors.push(`${path}: must be ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: not one of the enum`);
  if (Array.isArray(schema.anyOf)) {
    const branches = (schema.anyOf as Schema[]).map((branch) => jsonSchemaErrors(branch, value, path));
    if (!branches.some((e) => e.length === 0))
      errors.push(`${path}: matches no anyOf branch (${branches.flat().join('; ')})`);
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) {
      errors.push(`${path}: does not match ${schema.pattern}`);
    }
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) errors.push(`${path}: too short`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) errors.push(`${path}: too long`);
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${path}: below minimum`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${path}: above maximum`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${path}: too few items`);
    if (schema.items !== undefined) {
      value.forEach((item, i) => {
        errors.push(...jsonSchemaErrors(schema.items as Schema, item, `${path}[${i}]`));
      });
    }
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) {
      if (!Object.hasOwn(object, key)) errors.push(`${path}: missing required "${key}"`);
    }
    for (const [key, item] of Object.entries(object)) {
      if (schema.propertyNames !== undefined)
        errors.push(...jsonSchemaErrors(schema.propertyNames as Schema, key, `${path}.${key} (name)`));
      if (Object.hasOwn(properties, key)) {
        errors.push(...jsonSchemaErrors(properties[key] as Schema, item, `${path}.${key}`));
      } else if (schema.additionalProperties === false) {
        errors.push(`${path}: unknown property "${key}"`);
      } else if (typeof schema.additionalProperties === 'object') {
        errors.push(...jsonSchemaErrors(schema.additionalProperties as Schema, item, `${path}.${key}`));
      }
    }
  }
  return errors;
}
