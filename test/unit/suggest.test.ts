import { describe, expect, it } from 'vitest';
import { didYouMean, editDistance, nearestName } from '../../lib/config/suggest.js';

describe('editDistance', () => {
  it.each([
    ['prod-eu', 'prod-eu', 0],
    ['prod-ue', 'prod-eu', 1],
    ['namespace', 'namespaces', 1],
    ['prod-ap', 'prod-eu', 2],
    ['kubernetes.io/dockercfgjson', 'kubernetes.io/dockerconfigjson', 3],
    ['', 'abc', 3],
  ])('from %j to %j is %d', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('nearestName', () => {
  it('picks the closest candidate, the first of equals, and ignores case', () => {
    expect(nearestName('prod-ue', ['prod-us', 'prod-eu'])).toBe('prod-eu');
    expect(nearestName('Prod-EU', ['prod-eu'])).toBe('prod-eu');
    expect(nearestName('prod-e', ['prod-eu', 'prod-ez'])).toBe('prod-eu');
  });

  it('suggests nothing that is not a likely typo', () => {
    expect(nearestName('x', ['a'])).toBeUndefined();
    expect(nearestName('prod-ap', ['prod-eu', 'prod-us'])).toBeUndefined();
    expect(nearestName('staging', ['prod-eu'])).toBeUndefined();
    expect(didYouMean('staging', ['prod-eu'])).toBe('');
    expect(didYouMean('tag', ['namePrefix', 'tags'])).toBe('; did you mean "tags"?');
  });
});
