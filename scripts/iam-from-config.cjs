/**
 * IAM statements for the Lambda role, generated from the sync configuration file, so that the role can read only
 * the configured secrets and describe only the configured clusters.
 *
 * Loaded by osls / Serverless through `${file(./scripts/iam-from-config.cjs):statements}`. CommonJS on purpose:
 * the `file` variable source loads `.js`/`.cjs` with require(), and this package is `"type": "module"`.
 *
 * ARNs are CloudFormation expressions (`Fn::Join` over `AWS::Partition`/`AWS::Region`/`AWS::AccountId`) so that
 * packaging needs no AWS credentials; `renderArn` turns them into strings for tests and the `--print` preview.
 */
'use strict';

const { readFileSync } = require('node:fs');
const path = require('node:path');
const { parse } = require('yaml');

const PARTITION = { Ref: 'AWS::Partition' };
const REGION = { Ref: 'AWS::Region' };
const ACCOUNT = { Ref: 'AWS::AccountId' };

/** A secret's full ARN ends in "-" and six random characters; an IAM `?` matches exactly one character. */
const SECRET_SUFFIX_WILDCARD = '-??????';
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const FULL_SECRET_ARN = /-[A-Za-z0-9]{6}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/;

class IamConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'IamConfigError';
  }
}

/** `arn:<partition>:<service>:<region>:<account>:<resource>`; region/account default to the stack's own. */
function arn(service, resource, { region = REGION, account = ACCOUNT } = {}) {
  return { 'Fn::Join': ['', ['arn:', PARTITION, `:${service}:`, region, ':', account, `:${resource}`]] };
}

function isRecord(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resources that cover one `source:` entry (name, ARN or name prefix) for GetSecretValue/DescribeSecret. */
function secretResources(source, where) {
  if (typeof source.secret === 'string') {
    const id = source.secret;
    if (id.startsWith('arn:')) {
      if (!SECRET_ARN.test(id)) throw new IamConfigError(`${where}.secret: not a Secrets Manager ARN: ${id}`);
      // A partial ARN (no random suffix) must still match the real one; a full ARN is exact.
      return FULL_SECRET_ARN.test(id) ? [id, `${id}${SECRET_SUFFIX_WILDCARD}`] : [`${id}${SECRET_SUFFIX_WILDCARD}`];
    }
    return [arn('secretsmanager', `secret:${id}${SECRET_SUFFIX_WILDCARD}`)];
  }
  if (typeof source.namePrefix === 'string') {
    return [arn('secretsmanager', `secret:${source.namePrefix}*`)];
  }
  // Tag selector alone: any secret of this account and region, narrowed by the tag condition.
  return [arn('secretsmanager', 'secret:*')];
}

/** `{ StringEquals: { 'secretsmanager:ResourceTag/<k>': v } }` for a tag selector, else undefined. */
function tagCondition(tags) {
  if (!isRecord(tags) || Object.keys(tags).length === 0) return undefined;
  const equals = {};
  for (const [key, value] of Object.entries(tags).sort(([a], [b]) => a.localeCompare(b))) {
    equals[`secretsmanager:ResourceTag/${key}`] = String(value);
  }
  return { StringEquals: equals };
}

/** Validates the parts of the configuration that IAM depends on; the runtime validates the rest (lib/config). */
function checkShape(config) {
  if (!isRecord(config)) throw new IamConfigError('configuration: must be a mapping');
  if (!isRecord(config.clusters) || Object.keys(config.clusters).length === 0) {
    throw new IamConfigError('clusters: must define a cluster');
  }
  if (!Array.isArray(config.syncs) || config.syncs.length === 0) {
    throw new IamConfigError('syncs: must list at least one sync');
  }
  config.syncs.forEach((sync, i) => {
    const source = isRecord(sync) ? sync.source : undefined;
    if (
      !isRecord(source) ||
      (typeof source.secret !== 'string' && typeof source.namePrefix !== 'string' && !tagCondition(source.tags))
    ) {
      throw new IamConfigError(`syncs[${i}].source: needs "secret", "namePrefix" or non-empty "tags"`);
    }
  });
}

/**
 * Least-privilege statements for a parsed configuration.
 * @param {unknown} config the parsed YAML
 * @param {{ kmsKeyArns?: string[] }} [options] customer-managed keys that encrypt the synced secrets
 */
function generateStatements(config, options = {}) {
  checkShape(config);
  const statements = [];

  // One statement per selector: resources of a statement OR together, but tag conditions must apply only to
  // their own selector.
  const plain = [];
  config.syncs.forEach((sync, i) => {
    const where = `syncs[${i}].source`;
    const resources = secretResources(sync.source, where);
    const condition = tagCondition(sync.source.tags);
    if (condition === undefined) {
      plain.push(...resources);
      return;
    }
    statements.push({
      Sid: `ReadTaggedSecrets${i}`,
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: resources,
      Condition: condition,
    });
  });
  const uniquePlain = dedupe(plain);
  if (uniquePlain.length > 0) {
    statements.unshift({
      Sid: 'ReadConfiguredSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: uniquePlain,
    });
  }

  // These two support no resource-level permissions; BatchGetSecretValue still needs GetSecretValue on each secret.
  // https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_iam-policies.html
  statements.push({
    Sid: 'DiscoverSecrets',
    Effect: 'Allow',
    Action: ['secretsmanager:ListSecrets', 'secretsmanager:BatchGetSecretValue'],
    Resource: '*',
  });

  const clusters = [];
  const roles = [];
  for (const [key, cluster] of Object.entries(config.clusters)) {
    if (!isRecord(cluster) || !isRecord(cluster.eks)) continue; // kubeconfig clusters need no IAM
    const { name, region, roleArn } = cluster.eks;
    if (typeof name !== 'string' || typeof region !== 'string') {
      throw new IamConfigError(`clusters.${key}.eks: needs "name" and "region"`);
    }
    if (roleArn === undefined) {
      clusters.push(arn('eks', `cluster/${name}`, { region }));
      continue;
    }
    if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) {
      throw new IamConfigError(`clusters.${key}.eks.roleArn: not an IAM role ARN`);
    }
    // DescribeCluster then runs as the assumed role, so that role (not ours) needs it.
    roles.push(roleArn);
  }
  if (clusters.length > 0) {
    statements.push({ Sid: 'DescribeClusters', Effect: 'Allow', Action: ['eks:DescribeCluster'], Resource: clusters });
  }
  const uniqueRoles = dedupe(roles);
  if (uniqueRoles.length > 0) {
    statements.push({ Sid: 'AssumeClusterRoles', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: uniqueRoles });
  }

  const keys = dedupe(options.kmsKeyArns ?? []);
  for (const key of keys) {
    if (!KMS_KEY_ARN.test(key)) throw new IamConfigError(`kmsKeyArns: not a KMS key ARN: ${key}`);
  }
  if (keys.length > 0) {
    statements.push({
      Sid: 'DecryptSecrets',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: keys,
      // Only when Secrets Manager decrypts on our behalf, not for direct use of the key.
      Condition: { StringLike: { 'kms:ViaService': 'secretsmanager.*.amazonaws.com' } },
    });
  }
  return statements;
}

function dedupe(values) {
  const seen = new Set();
  return values.filter((value) => {
    const key = JSON.stringify(value);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** "a, b ,c" or a list -> trimmed non-empty strings. */
function splitList(value) {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : String(value).split(',');
  return items.map((item) => String(item).trim()).filter((item) => item !== '');
}

/** Reads and parses a configuration file (YAML or JSON); errors name the file. */
function readConfig(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new IamConfigError(`${file}: cannot read the configuration file (${error.code ?? error.message})`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new IamConfigError(`${file}: ${error.message.split('\n')[0]}`);
  }
}

/** Statements for a configuration file. */
function statementsForFile(file, options = {}) {
  try {
    return generateStatements(readConfig(file), options);
  } catch (error) {
    if (error instanceof IamConfigError && !error.message.startsWith(file)) {
      throw new IamConfigError(`${file}: ${error.message}`);
    }
    throw error;
  }
}

/** Evaluates the `Fn::Join`/`Ref` expressions made here into a plain ARN string. */
function renderArn(value, { partition = 'aws', region = 'us-east-1', account = '123456789012' } = {}) {
  if (typeof value === 'string') return value;
  if (isRecord(value) && value.Ref !== undefined) {
    const refs = { 'AWS::Partition': partition, 'AWS::Region': region, 'AWS::AccountId': account };
    if (!(value.Ref in refs)) throw new Error(`cannot render Ref ${value.Ref}`);
    return refs[value.Ref];
  }
  if (isRecord(value) && Array.isArray(value['Fn::Join'])) {
    const [separator, parts] = value['Fn::Join'];
    return parts.map((part) => renderArn(part, { partition, region, account })).join(separator);
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/** Passes with waves still rolling out send their continuation to the stack's queue (README "Waves"). */
const CONTINUE_WAVES_STATEMENT = {
  Sid: 'ContinueWaves',
  Effect: 'Allow',
  Action: ['sqs:SendMessage'],
  Resource: { 'Fn::GetAtt': ['ContinuationQueue', 'Arn'] },
};

/** Passes over `defaults.fanout` enqueue their work items on the stack's queue (README "Fleet scale: work items"). */
const WORK_ITEMS_STATEMENT = {
  Sid: 'EnqueueWorkItems',
  Effect: 'Allow',
  Action: ['sqs:SendMessage'],
  Resource: { 'Fn::GetAtt': ['WorkQueue', 'Arn'] },
};

/**
 * The osls/Serverless entry point: reads `custom.eksSync.configFile` and `custom.eksSync.kmsKeyArns`
 * (comma-separated) from serverless.yml.
 */
async function statements({ resolveVariable }) {
  const serviceDir = process.cwd();
  const configFile = String(await resolveVariable('self:custom.eksSync.configFile'));
  // The file is packaged by a pattern relative to the service; one outside it would silently not be shipped.
  const relativePath = path.relative(serviceDir, path.resolve(serviceDir, configFile));
  if (path.isAbsolute(configFile) || relativePath.startsWith('..')) {
    throw new IamConfigError(`config "${configFile}": must be a path inside ${serviceDir} (it is packaged from there)`);
  }
  const kmsKeyArns = splitList(await resolveVariable('self:custom.eksSync.kmsKeyArns'));
  return [
    ...statementsForFile(path.resolve(serviceDir, configFile), { kmsKeyArns }),
    CONTINUE_WAVES_STATEMENT,
    WORK_ITEMS_STATEMENT,
  ];
}

module.exports = { statements, generateStatements, statementsForFile, renderArn, splitList, IamConfigError };

// `node scripts/iam-from-config.cjs <config> [kmsKeyArn,...]` prints the policy with ARNs rendered for review.
if (require.main === module) {
  const [file = 'eks-secret-sync.yaml', keys] = process.argv.slice(2);
  try {
    const rendered = statementsForFile(file, { kmsKeyArns: splitList(keys) }).map((statement) => ({
      ...statement,
      Resource: Array.isArray(statement.Resource)
        ? statement.Resource.map((r) => renderArn(r, { region: '<region>', account: '<account>' }))
        : statement.Resource,
    }));
    console.log(JSON.stringify({ Version: '2012-10-17', Statement: rendered }, null, 2));
  } catch (error) {
    console.error(error.message);
    process.exitCode = 1;
  }
}
