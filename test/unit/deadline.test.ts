import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DeadlineExceededError } from '../../lib/errors.js';
import { PassDeadline } from '../../lib/sync/deadline.js';

const NOW = new Date('2025-05-01T10:00:00.000Z');
const cut = () => new DeadlineExceededError('read Secret', { cluster: 'eu', object: 'Secret app/db' });

describe('PassDeadline', () => {
  it('lets calls finish before a deadline further away than one timer can wait', async () => {
    // Prepare: 30 days, beyond setTimeout's 2^31-1 ms (which would fire at once).
    const deadline = new PassDeadline(NOW.getTime() + 30 * 24 * 3_600_000, () => NOW);

    // Act
    await tick();
    const value = await deadline.guard(async () => 'done', cut);

    // Assess
    expect(value).toBe('done');
    expect(deadline.reached).toBe(false);
    deadline.dispose();
  });

  it('refuses to start a call once the deadline has passed', async () => {
    // Prepare
    const deadline = new PassDeadline(NOW.getTime(), () => NOW);
    let started = false;

    // Act
    const outcome = deadline.guard(async () => {
      started = true;
    }, cut);

    // Assess
    await expect(outcome).rejects.toThrow(
      'pass deadline reached for cluster "eu" during read Secret (Secret app/db); stopped waiting, the next pass repairs it',
    );
    expect(started).toBe(false);
  });
});
