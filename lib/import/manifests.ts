/** Manifest text (one file or stdin, possibly multi-document) -> the objects it holds, each with its place. */
import { parseAllDocuments } from 'yaml';
import { InputError } from '../errors.js';

export type Json = Record<string, unknown>;

/** One Kubernetes object read from a file. */
export interface Manifest {
  /** `file:documentIndex`, or `file:documentIndex.items[i]` for a `List` (what `kubectl get -o yaml` prints). */
  where: string;
  body: Json;
}

export function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every object of a YAML (or JSON) text; empty documents are skipped but keep their index, so places match what
 * an editor shows. Throws InputError (naming the file and document, never its content) on a syntax error.
 */
export function parseManifests(text: string, origin: string): Manifest[] {
  const manifests: Manifest[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    const [error] = doc.errors;
    if (error !== undefined) {
      throw new InputError(
        'InvalidInput',
        `${origin}:${index}: not valid YAML (${error.code}, line ${error.linePos?.[0]?.line ?? '?'})`,
      );
    }
    const body: unknown = doc.toJS();
    if (body === null || body === undefined) return;
    if (!isRecord(body)) throw new InputError('InvalidInput', `${origin}:${index}: not a Kubernetes object`);
    const where = `${origin}:${index}`;
    if (body.kind === 'List' && Array.isArray(body.items)) {
      body.items.forEach((item, i) => {
        if (isRecord(item)) manifests.push({ where: `${where}.items[${i}]`, body: item });
      });
    } else {
      manifests.push({ where, body });
    }
  });
  return manifests;
}
