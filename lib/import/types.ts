/** What an import produces, besides the configuration itself. */

/** Something of the manifests the configuration does not carry, at its place (`file:document.path`). */
export interface Finding {
  place: string;
  /** Names, keys and fields only: never a value or a template's text. */
  reason: string;
}

/** One imported sync and where it came from. */
export interface ImportedSync {
  /** `ExternalSecret payments/db (apps/db.yaml:0)`. */
  from: string;
  /** The findings of its ExternalSecret (also in ImportResult.leftOut / notes). */
  leftOut: Finding[];
  notes: Finding[];
  /** The sync, in the configuration's shape. */
  sync: Record<string, unknown>;
}

export interface ImportOptions {
  /** The clusters the manifests are applied in: `{ name, region? }` (region defaults to the secrets' region). */
  clusters: Array<{ name: string; region?: string }>;
  /** The region the functions run in (their Secrets Manager); default: the one region of the stores used. */
  region?: string;
  /** The namespace of manifests that name none (as `kubectl apply -n` would give them). */
  namespace?: string;
  /** `adopt: true` on every target: for the cut-over, once ESO let go of the Secrets. */
  adopt?: boolean;
}

export interface ImportResult {
  /** The whole configuration (clusters and syncs), in file order; undefined when no sync could be imported. */
  config: { clusters: Record<string, unknown>; syncs: Array<Record<string, unknown>> } | undefined;
  syncs: ImportedSync[];
  /** The Secrets Manager region the configuration assumes (where the functions must be deployed). */
  region: string;
  /** Behaviour the configuration does not carry: the import is incomplete (exit 1). */
  leftOut: Finding[];
  /** Settings not needed here (push replaces polling, our role replaces ESO's auth), or assumptions made. */
  notes: Finding[];
  /** Documents of other kinds (Deployments, ...) read and skipped. */
  otherDocuments: number;
}
