import { describe, expect, it } from 'vitest';
import { consumerHashAnnotation, kubernetesNameFor, secretNameFor } from '../../lib/domain/names.js';

/** Kubernetes' qualified-name rules for an annotation key: optional DNS prefix, then a name segment of ≤ 63. */
const NAME_SEGMENT = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function segmentOf(annotation: string): string {
  return annotation.slice(annotation.indexOf('/') + 1);
}

describe('consumerHashAnnotation', () => {
  it('uses the Secret name as is when it fits', () => {
    // Act
    const annotation = consumerHashAnnotation('payments-db');

    // Assess
    expect(annotation).toBe('eks-secret-sync.io/secret.payments-db');
  });

  it('keeps the name segment within 63 characters and valid for any Secret name length', () => {
    for (const length of [1, 55, 56, 57, 63, 64, 100, 253]) {
      // Prepare
      const name = `${'ab-c.'.repeat(60).slice(0, length - 1)}z`;

      // Act
      const segment = segmentOf(consumerHashAnnotation(name));

      // Assess
      expect(segment.length, `name of ${length}`).toBeLessThanOrEqual(63);
      expect(segment, `name of ${length}`).toMatch(NAME_SEGMENT);
    }
  });

  it('gives different annotations to long names that share a prefix', () => {
    // Prepare
    const base = 'x'.repeat(60);

    // Act
    const one = consumerHashAnnotation(`${base}-one`);
    const two = consumerHashAnnotation(`${base}-two`);

    // Assess
    expect(one).not.toBe(two);
    expect(segmentOf(one).length).toBeLessThanOrEqual(63);
  });
});

describe('kubernetesNameFor', () => {
  it.each([
    ['prod/payments/db_main', 'prod-payments-db-main'],
    ['Prod/API+Key@v2', 'prod-api-key-v2'],
    ['/leading/and/trailing/', 'leading-and-trailing'],
    ['my.secret/x', 'my.secret-x'],
    ['app/.env', 'app.env'],
    ['a..b', 'a.b'],
    ['a/-.b', 'a.b'],
    ['___', 'secret'],
  ])('turns %s into %s', (input, expected) => {
    // Act
    const name = kubernetesNameFor(input);

    // Assess
    expect(name).toBe(expected);
    expect(name).toMatch(DNS_SUBDOMAIN);
  });

  it('cuts names longer than 253 characters and still ends with an alphanumeric', () => {
    // Act
    const name = kubernetesNameFor(`${'a'.repeat(252)}/b`);

    // Assess
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name).toMatch(DNS_SUBDOMAIN);
  });
});

describe('secretNameFor', () => {
  it("takes the target's own Secret name when it has one", () => {
    expect(secretNameFor('prod/payments/db', { secret: 'payments-db' })).toBe('payments-db');
  });

  it("derives the name from the source's otherwise", () => {
    expect(secretNameFor('prod/payments/db_main', {})).toBe('prod-payments-db-main');
    expect(secretNameFor('prod/payments/db_main')).toBe(kubernetesNameFor('prod/payments/db_main'));
  });
});
