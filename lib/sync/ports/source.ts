/**
 * The Secrets Manager port of the engine. `lib/source` implements it; unit tests use an in-memory fake. Nothing
 * here imports an SDK.
 */

/** One version of a Secrets Manager secret, as read at AWSCURRENT. */
export interface SecretValue {
  arn: string;
  name: string;
  versionId: string;
  versionStages: string[];
  /** Exactly one of `secretString` and `secretBinary` is set. */
  secretString?: string;
  secretBinary?: Uint8Array;
}

/** A secret's identity and tags, as listed or described (no value). */
export interface SecretRef {
  arn: string;
  name: string;
  tags: Record<string, string>;
  /** Set when the secret is scheduled for deletion. */
  deletedDate?: Date;
}

/** A secret's identity and the version now at AWSCURRENT, as DescribeSecret tells them (no value is read). */
export interface SecretVersions extends SecretRef {
  /** The version id labelled AWSCURRENT; undefined when no version carries the label. */
  currentVersionId?: string;
  /** The version id labelled AWSPREVIOUS (what a failed wave falls back to when its Secret names no previous one). */
  previousVersionId?: string;
}

export interface SecretFilter {
  namePrefix?: string;
  tags?: Record<string, string>;
}

/** Secrets Manager behind a port. Every read is at AWSCURRENT; values are never cached across calls. */
export interface SecretSource {
  /**
   * Reads each id at AWSCURRENT; each maps to its value or its own error (never a throw). The adapter picks the
   * calls: GetSecretValue for one id, BatchGetSecretValue (20 per call) for several.
   */
  read(ids: readonly string[]): Promise<Map<string, SecretValue | Error>>;
  /**
   * ListSecrets (all pages): exactly the live secrets whose name starts with `namePrefix` and that carry every tag
   * of `tags`. The adapter owns the match: AWS's own filters are looser (prefix per word, tag keys and values apart).
   */
  list(filter: SecretFilter): Promise<SecretRef[]>;
  /**
   * GetSecretValue of one version by its id (a work item's version; any stage). Throws SyncError (`SecretNotFound`
   * when the secret or the version is gone).
   */
  readVersion(id: string, versionId: string): Promise<SecretValue>;
  /** DescribeSecret: identity and tags, no value. Throws SyncError `SecretNotFound`. */
  describe(id: string): Promise<SecretRef>;
  /**
   * DescribeSecret: the version id now at AWSCURRENT, without reading the value. The engine uses it after writing,
   * to catch a newer version written over by a concurrent pass.
   */
  currentVersionId(id: string): Promise<string | undefined>;
  /**
   * DescribeSecret: identity, deletion date and the AWSCURRENT version id, never the value (`status` needs only
   * `secretsmanager:DescribeSecret`). Throws SyncError `SecretNotFound`.
   */
  describeVersions(id: string): Promise<SecretVersions>;
}
