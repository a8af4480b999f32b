/** A `Secret Label Updated` event for AWSCURRENT, shaped as EventBridge delivers it (demo, benchmark, tests). */
export function labelUpdatedEvent(
  secret: { name: string; arn: string },
  versionId: string | undefined,
  options: { id?: string; region?: string } = {},
) {
  return {
    version: '0',
    id: options.id ?? crypto.randomUUID(),
    'detail-type': 'Secret Label Updated',
    source: 'aws.secretsmanager',
    account: '123456789012',
    time: new Date().toISOString(),
    region: options.region ?? 'us-east-1',
    resources: [secret.arn],
    detail: { name: secret.name, labelUpdated: 'AWSCURRENT', versionId },
  };
}
