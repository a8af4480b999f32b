/** Loading and cross-checking the configuration; every error names its place in the file. */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { fieldPath } from '../domain/field-path.js';
import { secretNameFor } from '../domain/names.js';
import { isSecretArn, nameFromArn } from '../domain/secret-id.js';
import { ConfigError } from '../errors.js';
import { type Config, configSchema } from './schema.js';

function zodIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${fieldPath(issue.path) || '(root)'}: ${issue.message}`);
}

/** Checks that need the whole file: cluster references and duplicate targets. */
function crossCheck(config: Config): string[] {
  const issues: string[] = [];
  const known = Object.keys(config.clusters);
  const seen = new Map<string, string>();
  config.syncs.forEach((sync, s) => {
    const single = 'secret' in sync.source ? sync.source.secret : undefined;
    sync.targets.forEach((target, t) => {
      const where = `syncs[${s}].targets[${t}]`;
      target.clusters.forEach((cluster, c) => {
        if (!known.includes(cluster)) {
          issues.push(`${where}.clusters[${c}]: unknown cluster "${cluster}" (defined: ${known.join(', ')})`);
        }
      });
      for (const field of ['clusters', 'namespaces'] as const) {
        target[field].forEach((item, i) => {
          if (target[field].indexOf(item) !== i) issues.push(`${where}.${field}[${i}]: "${item}" is listed twice`);
        });
      }
      if (single === undefined && target.secret !== undefined) {
        issues.push(`${where}.secret: a selector source matches many secrets; omit "secret" (names are derived)`);
      }
      if (single !== undefined) {
        // The name plan.ts gives the Secret (from the source's name, which an ARN carries).
        const secret = secretNameFor(isSecretArn(single) ? (nameFromArn(single) ?? single) : single, target);
        for (const cluster of target.clusters) {
          for (const namespace of target.namespaces) {
            const key = `${cluster}/${namespace}/${secret}`;
            const other = seen.get(key);
            if (other === where) continue; // listed twice in this target: reported above
            if (other !== undefined) {
              issues.push(
                `${where}: Secret ${namespace}/${secret} in cluster "${cluster}" is also written by ${other}`,
              );
            } else {
              seen.set(key, where);
            }
          }
        }
      }
    });
  });
  return issues;
}

/** Parses and validates configuration text (YAML or JSON). Throws ConfigError naming every problem. */
export function parseConfig(text: string, origin = 'configuration'): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => `${origin}: YAML ${e.message.split('\n')[0]}`));
  }
  const parsed = configSchema.safeParse(doc.toJS());
  if (!parsed.success) throw new ConfigError(zodIssues(parsed.error).map((i) => `${origin}: ${i}`));
  const issues = crossCheck(parsed.data);
  if (issues.length > 0) throw new ConfigError(issues.map((i) => `${origin}: ${i}`));
  return parsed.data;
}

/** Reads and validates a configuration file. */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new ConfigError([`${path}: cannot read configuration file (${code})`], { cause: error });
  }
  return parseConfig(text, path);
}
