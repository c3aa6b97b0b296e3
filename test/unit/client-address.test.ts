// The client a per-address limit counts: IPv4 as is, IPv6 by its /64.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientNetworkOf } from '../../src/limits/client-address.js';

test('IPv4 and IPv4-mapped addresses are one client each', () => {
  assert.equal(clientNetworkOf('203.0.113.7'), '203.0.113.7');
  assert.equal(clientNetworkOf('::ffff:203.0.113.7'), '203.0.113.7');
});

test('every address of an IPv6 /64 is the same client, however it is written', () => {
  const network = clientNetworkOf('2001:db8:0:1::1');
  assert.equal(network, '2001:db8:0:1::/64');
  for (const address of ['2001:db8:0:1:ffff:ffff:ffff:ffff', '2001:0db8:0000:0001:0:0:0:2', '2001:db8:0:1::abcd%eth0'])
    assert.equal(clientNetworkOf(address), network, address);
  assert.notEqual(clientNetworkOf('2001:db8:0:2::1'), network);
  assert.equal(clientNetworkOf('::1'), '0:0:0:0::/64');
});
